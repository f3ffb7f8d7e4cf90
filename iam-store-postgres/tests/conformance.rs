//! The PostgreSQL store against the store-conformance suite, each contract in a fresh schema.

mod common;

use std::sync::Mutex;

use common::TestSchema;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_meets_the_store_contract() {
    if !common::server_available("postgres_store_meets_the_store_contract").await {
        return;
    }
    let schemas = Mutex::new(Vec::new());
    iam_core::testing::run_all(|| async {
        let schema = TestSchema::new();
        let store = schema.open().await;
        schemas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(schema);
        store
    })
    .await;
}
