//! The rusqlite backend for native tests and tools.

use crate::db::{Db, Rows, SqlValue, StoreError};

pub struct NativeDb(pub rusqlite::Connection);

impl NativeDb {
    pub fn in_memory() -> Self {
        Self(rusqlite::Connection::open_in_memory().expect("in-memory SQLite"))
    }
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Sql(e.to_string())
}

impl Db for NativeDb {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, StoreError> {
        use rusqlite::types::{Value, ValueRef};
        let mut stmt = self.0.prepare_cached(sql).map_err(err)?;
        let columns: Vec<String> = stmt
            .column_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        let params = params.iter().map(|p| match p {
            SqlValue::Integer(i) => Value::Integer(*i),
            SqlValue::Real(f) => Value::Real(*f),
            SqlValue::Text(s) => Value::Text(s.clone()),
            SqlValue::Blob(b) => Value::Blob(b.clone()),
            SqlValue::Null => Value::Null,
        });
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(i) => SqlValue::Integer(i),
                    ValueRef::Real(f) => SqlValue::Real(f),
                    ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }
}
