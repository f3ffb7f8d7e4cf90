//! [`Dialect`]: what a store tells this crate about its database, and [`SqlDatabase`] /
//! [`ReadRow`]: what this crate needs of a sqlx driver.

use std::future::Future;
use std::pin::Pin;

use iam_core::clock::Timestamp;
use iam_core::store::{StoreError, ThrottleState};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::error::AttemptError;
use crate::statement::{Param, Statement};

/// A boxed future that may move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A connection of dialect `D`'s database.
pub type Conn<D> = <<D as Dialect>::Db as Database>::Connection;

/// A row of dialect `D`'s database.
pub type RowOf<D> = <<D as Dialect>::Db as Database>::Row;

/// One SQL store's database: its driver, and where its SQL differs from the other store's.
///
/// The store crate implements it on a marker type and names that type when it calls this
/// crate's functions (`reads::get::<SqliteDialect>(..)`).
pub trait Dialect: Send + Sync + 'static {
    /// The sqlx driver.
    type Db: SqlDatabase;

    /// The database's name, which starts every error message ("sqlite", "postgres").
    const NAME: &'static str;

    /// Appended to the query that checks a record's version for `Write::Check`, so the record
    /// cannot change before the commit ends (empty when the transaction already excludes every
    /// other writer).
    const CHECK_LOCK: &'static str;

    /// Whether `e` says that the database itself is damaged.
    fn is_corruption(e: &sqlx::Error) -> bool;

    /// Reads the throttle counter for `key` ahead of a reservation at `at`, so that no other
    /// transaction can change the counter until this one ends (the reservation then decides
    /// with its policy and writes the outcome).
    fn lock_throttle(
        conn: &mut Conn<Self>,
        key: &str,
        at: Timestamp,
    ) -> impl Future<Output = Result<Option<ThrottleState>, AttemptError>> + Send;

    /// Whether `e` only means that the transaction met another one (deadlock, serialization
    /// failure), so running it again may succeed; none by default.
    fn is_transient(e: &sqlx::Error) -> bool {
        let _ = e;
        false
    }

    /// Maps an error met while serving a store call.
    fn backend(e: &sqlx::Error) -> StoreError {
        if Self::is_corruption(e) {
            StoreError::Corrupt(format!("{}: {e}", Self::NAME))
        } else {
            StoreError::Backend(format!("{}: {e}", Self::NAME))
        }
    }

    /// A [`StoreError::Corrupt`] saying `what` is wrong with the stored data.
    fn corrupt(what: &str) -> StoreError {
        StoreError::Corrupt(format!("{}: {what}", Self::NAME))
    }
}

/// A sqlx driver that runs [`Statement`]s and reads rows with the column types iam stores
/// (text, 64-bit integers, bytes). Every driver that can is one: SQLite and PostgreSQL are.
pub trait SqlDatabase: Database<Row: ReadRow> {
    /// Runs `stmt` on `conn`.
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        stmt: &'c Statement<'c>,
    ) -> BoxFuture<'c, Result<Self::QueryResult, sqlx::Error>>;

    /// Runs `stmt` on `conn` and returns its first row, if any.
    fn fetch_optional<'c>(
        conn: &'c mut Self::Connection,
        stmt: &'c Statement<'c>,
    ) -> BoxFuture<'c, Result<Option<Self::Row>, sqlx::Error>>;

    /// Runs `stmt` on `conn` and returns every row.
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        stmt: &'c Statement<'c>,
    ) -> BoxFuture<'c, Result<Vec<Self::Row>, sqlx::Error>>;
}

impl<DB> SqlDatabase for DB
where
    DB: Database<Row: ReadRow>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
{
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        stmt: &'c Statement<'c>,
    ) -> BoxFuture<'c, Result<Self::QueryResult, sqlx::Error>> {
        conn.execute(query(stmt))
    }

    fn fetch_optional<'c>(
        conn: &'c mut Self::Connection,
        stmt: &'c Statement<'c>,
    ) -> BoxFuture<'c, Result<Option<Self::Row>, sqlx::Error>> {
        conn.fetch_optional(query(stmt))
    }

    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        stmt: &'c Statement<'c>,
    ) -> BoxFuture<'c, Result<Vec<Self::Row>, sqlx::Error>> {
        conn.fetch_all(query(stmt))
    }
}

/// `stmt` as a sqlx query with its values bound, for what [`SqlDatabase`] does not cover (such
/// as reading the rows of each statement of a SQLite script).
pub fn query<'q, DB>(stmt: &'q Statement<'q>) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    stmt.params()
        .iter()
        .fold(sqlx::query(stmt.sql()), |q, param| match *param {
            Param::Text(v) => q.bind(v),
            Param::OptionalText(v) => q.bind(v),
            Param::Integer(v) => q.bind(v),
            Param::OptionalInteger(v) => q.bind(v),
        })
}

/// Reading a row's columns as the types iam stores.
pub trait ReadRow {
    /// Column `i` as text.
    fn text(&self, i: usize) -> Result<String, sqlx::Error>;
    /// Column `i` as text or NULL.
    fn optional_text(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
    /// Column `i` as a 64-bit integer.
    fn integer(&self, i: usize) -> Result<i64, sqlx::Error>;
    /// Column `i` as a 64-bit integer or NULL.
    fn optional_integer(&self, i: usize) -> Result<Option<i64>, sqlx::Error>;
    /// Column `i` as bytes.
    fn bytes(&self, i: usize) -> Result<Vec<u8>, sqlx::Error>;
}

impl<R> ReadRow for R
where
    R: Row,
    usize: ColumnIndex<R>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, i: usize) -> Result<String, sqlx::Error> {
        self.try_get(i)
    }

    fn optional_text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(i)
    }

    fn integer(&self, i: usize) -> Result<i64, sqlx::Error> {
        self.try_get(i)
    }

    fn optional_integer(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(i)
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>, sqlx::Error> {
        self.try_get(i)
    }
}
