//! The in-memory store against the store-conformance suite.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_meets_the_store_contract() {
    iam_core::testing::run_all(|| async { iam_core::MemoryStore::new() }).await;
}
