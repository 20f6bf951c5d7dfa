//! What the MLS work behind a member addition costs, measured rather than
//! printed by ignored tests:
//!
//! - `verify_key_package`: checking one key package with the shared
//!   crypto provider, against building a provider for every call (why the
//!   shared one exists);
//! - `add_100_members`: one commit adding 100 installations, its merge,
//!   sealing the 100 welcomes, and one joiner opening its welcome.
//!
//! ```text
//! cargo bench --bench mls_costs
//! ```

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::{KeyPackageIn, ProtocolVersion};
use openmls_rust_crypto::RustCrypto;
use xmtp_opmon::mls::{
    seal_welcome, verify_key_package, MlsGroupState, MlsInstallation, VerifiedKeyPackage,
};

/// A deterministic installation; its secret only needs to differ per index.
fn installation(index: u8) -> MlsInstallation {
    MlsInstallation::new(&format!("inbox-{index}"), [index.wrapping_add(1); 32])
        .expect("an installation from a fixed secret")
}

fn verify(c: &mut Criterion) {
    let bytes = installation(0).key_package().expect("a key package");
    let mut group = c.benchmark_group("verify_key_package");
    group.bench_function("shared_provider", |b| {
        b.iter(|| verify_key_package(&bytes).expect("valid"))
    });
    group.bench_function("per_call_provider", |b| {
        b.iter(|| {
            let crypto = RustCrypto::default();
            KeyPackageIn::tls_deserialize_exact(&bytes)
                .expect("decodes")
                .validate(&crypto, ProtocolVersion::Mls10)
                .expect("valid")
        })
    });
    group.finish();
}

fn add_100(c: &mut Criterion) {
    let creator = installation(200);
    let joiners: Vec<MlsInstallation> = (0..100).map(installation).collect();
    let key_packages: Vec<VerifiedKeyPackage> = joiners
        .iter()
        .map(|j| verify_key_package(&j.key_package().expect("a key package")).expect("valid"))
        .collect();
    let inboxes: Vec<(String, u64)> = joiners
        .iter()
        .map(|j| (j.inbox_id().to_owned(), 1))
        .collect();
    let new_group = || MlsGroupState::create(&creator, 1).expect("a group");

    let mut group = c.benchmark_group("add_100_members");
    group.sample_size(10);
    group.bench_function("commit", |b| {
        b.iter_batched(
            new_group,
            |mut state| state.add_members(&creator, &key_packages, &inboxes),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("commit_and_merge", |b| {
        b.iter_batched(
            new_group,
            |mut state| {
                state
                    .add_members(&creator, &key_packages, &inboxes)
                    .expect("added");
                state.merge_pending_commit(&creator).expect("merged")
            },
            BatchSize::PerIteration,
        )
    });
    let pending = new_group()
        .add_members(&creator, &key_packages, &inboxes)
        .expect("added");
    group.bench_function("seal_welcomes", |b| {
        b.iter(|| {
            key_packages
                .iter()
                .map(|kp| seal_welcome(&pending.welcome, kp, 1).expect("sealed"))
                .collect::<Vec<_>>()
        })
    });
    let sealed = seal_welcome(&pending.welcome, &key_packages[0], 1).expect("sealed");
    group.bench_function("open_welcome", |b| {
        b.iter(|| {
            joiners[0]
                .open_welcome(
                    &sealed.data,
                    &sealed.hpke_public_key,
                    sealed.wrapper_algorithm as i32,
                    &sealed.welcome_metadata,
                )
                .expect("opened")
        })
    });
    group.finish();
}

criterion_group!(benches, verify, add_100);
criterion_main!(benches);
