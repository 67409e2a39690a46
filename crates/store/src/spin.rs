//! The Spin backend: `fermyon:spin/sqlite@2.0.0` through spin-sdk.

use spin_sdk::sqlite::{Connection, Value};

use crate::db::{Db, Rows, SqlValue, StoreError};

pub struct SpinDb(Connection);

impl SpinDb {
    /// Opens the `default` database and brings its schema up to date.
    pub fn open_default() -> Result<Self, StoreError> {
        let db = Self(Connection::open_default().map_err(|e| StoreError::Sql(e.to_string()))?);
        crate::migrate(&db)?;
        Ok(db)
    }
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, StoreError> {
        let params: Vec<Value> = params
            .iter()
            .map(|p| match p {
                SqlValue::Integer(i) => Value::Integer(*i),
                SqlValue::Real(f) => Value::Real(*f),
                SqlValue::Text(s) => Value::Text(s.clone()),
                SqlValue::Blob(b) => Value::Blob(b.clone()),
                SqlValue::Null => Value::Null,
            })
            .collect();
        let result = self
            .0
            .execute(sql, &params)
            .map_err(|e| StoreError::Sql(e.to_string()))?;
        Ok(Rows {
            columns: result.columns,
            rows: result
                .rows
                .into_iter()
                .map(|r| {
                    r.values
                        .into_iter()
                        .map(|v| match v {
                            Value::Integer(i) => SqlValue::Integer(i),
                            Value::Real(f) => SqlValue::Real(f),
                            Value::Text(s) => SqlValue::Text(s),
                            Value::Blob(b) => SqlValue::Blob(b),
                            Value::Null => SqlValue::Null,
                        })
                        .collect()
                })
                .collect(),
        })
    }
}
