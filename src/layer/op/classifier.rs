//! How the op layer turns a service's error into an [`OpFailure`].
//!
//! The layer does not require anything of the inner service's error type;
//! a classifier does. The default, [`ByClassify`], asks the error itself
//! (its [`Classify`] implementation), which suits a client whose errors
//! know their class. Put the layer over `tower::timeout`, `buffer` or any
//! middleware that erases errors to a `BoxError`, and [`ByErrorChain`]
//! reads the chain instead: a deadline, a gRPC status, a transport error.
//! Any `Fn(&E) -> OpFailure` is a classifier too.

use std::error::Error as StdError;

use crate::classify::{Classify, ErrorClass};

use super::OpFailure;

/// Decides the class and `error.type` of a failed operation.
pub trait ClassifyError<E> {
    /// The failure `error` stands for.
    fn classify_error(&self, error: &E) -> OpFailure;
}

/// The default classifier: the error's own [`Classify`] implementation.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByClassify;

impl<E: Classify> ClassifyError<E> for ByClassify {
    fn classify_error(&self, error: &E) -> OpFailure {
        OpFailure {
            class: error.class(),
            error_type: error.error_type(),
        }
    }
}

/// Classifies a type-erased error by walking its source chain: a
/// `tonic::Status` by its code, a tower or tokio deadline as `timeout`,
/// anything else as a transport failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByErrorChain;

impl<E> ClassifyError<E> for ByErrorChain
where
    E: AsRef<dyn StdError + Send + Sync + 'static>,
{
    fn classify_error(&self, error: &E) -> OpFailure {
        let error: &(dyn StdError + 'static) = error.as_ref();
        let class = error_chain_class(error);
        OpFailure {
            class,
            error_type: class.as_str(),
        }
    }
}

fn error_chain_class(error: &(dyn StdError + 'static)) -> ErrorClass {
    let mut link = Some(error);
    while let Some(error) = link {
        if let Some(status) = error.downcast_ref::<tonic::Status>() {
            return ErrorClass::from_status(status).unwrap_or(ErrorClass::Server);
        }
        link = error.source();
    }
    ErrorClass::from_transport_error(error)
}

impl<E, F> ClassifyError<E> for F
where
    F: Fn(&E) -> OpFailure,
{
    fn classify_error(&self, error: &E) -> OpFailure {
        self(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::BoxError;

    #[test]
    fn chains_find_deadlines_and_statuses() {
        let elapsed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert_eq!(
            ByErrorChain.classify_error(&elapsed).class,
            ErrorClass::Timeout
        );
        let status: BoxError = Box::new(tonic::Status::resource_exhausted("slow down"));
        assert_eq!(
            ByErrorChain.classify_error(&status).class,
            ErrorClass::RateLimited
        );
        let other: BoxError = "closed".into();
        assert_eq!(
            ByErrorChain.classify_error(&other).class,
            ErrorClass::Unavailable
        );
    }
}
