//! [`Statement`]: SQL with numbered parameters, and the values bound to them.

use std::fmt::Write as _;

/// One value bound to a statement parameter.
#[derive(Clone, Copy)]
pub enum Param<'a> {
    /// Text.
    Text(&'a str),
    /// Text or NULL.
    OptionalText(Option<&'a str>),
    /// A 64-bit integer.
    Integer(i64),
    /// A 64-bit integer or NULL.
    OptionalInteger(Option<i64>),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Param::OptionalText(v)
    }
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Integer(v)
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        Param::OptionalInteger(v)
    }
}

/// SQL text naming its parameters `$1`, `$2`, ... (both the SQLite and the PostgreSQL driver
/// accept that form) and the values bound to them, in order.
///
/// It has no `Debug`: the values may be record bodies.
pub struct Statement<'a> {
    sql: String,
    params: Vec<Param<'a>>,
}

impl<'a> Statement<'a> {
    /// A statement starting with `sql`; parameters it names are bound with [`Statement::bind`].
    pub fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Binds the next parameter.
    #[must_use]
    pub fn bind(mut self, value: impl Into<Param<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends the placeholder of the next parameter and binds `value` to it.
    pub fn push_bind(&mut self, value: impl Into<Param<'a>>) -> &mut Self {
        self.params.push(value.into());
        // Writing to a String cannot fail.
        let _ = write!(self.sql, "${}", self.params.len());
        self
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The bound values, in parameter order.
    pub fn params(&self) -> &[Param<'a>] {
        &self.params
    }
}
