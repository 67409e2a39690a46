//! The SQL API every backend implements.

/// A value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Null,
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        Self::Text(s.to_string())
    }
}
impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}
impl From<i64> for SqlValue {
    fn from(i: i64) -> Self {
        Self::Integer(i)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Self::Null)
    }
}

/// The rows a statement returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
}

/// One row, read by column name.
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [SqlValue],
}

impl Rows {
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row {
            columns: &self.columns,
            values,
        })
    }

    pub fn first(&self) -> Option<Row<'_>> {
        self.iter().next()
    }
}

impl Row<'_> {
    pub fn value(&self, column: &str) -> Option<&SqlValue> {
        let i = self.columns.iter().position(|c| c == column)?;
        self.values.get(i)
    }

    pub fn text(&self, column: &str) -> Option<String> {
        match self.value(column)? {
            SqlValue::Text(s) => Some(s.clone()),
            SqlValue::Integer(i) => Some(i.to_string()),
            _ => None,
        }
    }

    pub fn int(&self, column: &str) -> Option<i64> {
        match self.value(column)? {
            SqlValue::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(String),
    #[error("migration {version} ({name}) failed: {message}")]
    Migration {
        version: i64,
        name: &'static str,
        message: String,
    },
}

/// A connection to the system of record.
pub trait Db {
    /// Runs one statement with positional (`?`) parameters.
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, StoreError>;

    /// Runs `work` inside a transaction: committed when it returns `Ok`,
    /// rolled back otherwise, so a failed request leaves no half-written
    /// record. Savepoints make it nest: an inner unit of work joins the
    /// outer one.
    fn transaction<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        Self: Sized,
    {
        self.execute("SAVEPOINT careflow_tx", &[])?;
        match work(self) {
            Ok(value) => {
                self.execute("RELEASE careflow_tx", &[])?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.execute("ROLLBACK TO careflow_tx", &[]);
                let _ = self.execute("RELEASE careflow_tx", &[]);
                Err(e)
            }
        }
    }
}
