//! The PostgreSQL store against the store-conformance suite, one test per contract, each in a
//! fresh schema. Without a server the tests are skipped, except under `CI=true`, where they fail.

mod common;

use common::TestSchema;
use iam_store_postgres::PostgresStore;

/// A store in a fresh schema, dropped with everything in it when the test ends.
async fn fresh() -> (PostgresStore, TestSchema) {
    let schema = TestSchema::new();
    let store = schema.open().await;
    (store, schema)
}

iam_core::store_contract_tests!(fresh, skip_unless = common::server_available);
