pub mod mls;
pub mod proto;
