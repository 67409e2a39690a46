//! Reads an `.xlsx` upload for the Excel trigger (A-T4): the first
//! worksheet's header row declares the variables (Vietnamese labels get
//! stable keys, `Số điện thoại` → `so_dien_thoai`, the label is kept), and
//! every non-empty row below it becomes a map of values. Numbers, dates
//! and booleans keep their Excel types so binding can coerce them.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde::Serialize;
use serde_json::{Map, Value};

/// Largest upload accepted.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;
/// Most data rows in one upload.
pub const MAX_ROWS: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// The variable key (`so_dien_thoai`).
    pub key: String,
    /// The header as written (`Số điện thoại`).
    pub label: String,
    /// The column's letter (`C`).
    pub letter: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub columns: Vec<Column>,
    /// (spreadsheet row number, 1-based as Excel shows it; values by key).
    pub rows: Vec<(usize, Map<String, Value>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SheetError {
    #[error("the file is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("the file is not an .xlsx workbook: {0}")]
    NotXlsx(String),
    #[error("the workbook has no worksheet")]
    NoSheet,
    #[error("the first worksheet is empty")]
    Empty,
    #[error("column {letter} has no header")]
    MissingHeader { letter: String },
    #[error("columns {first} and {second} both become the variable `{key}`")]
    DuplicateHeader {
        key: String,
        first: String,
        second: String,
    },
    #[error("the sheet has more than {MAX_ROWS} data rows")]
    TooManyRows,
}

/// Reads the first worksheet of `bytes`.
pub fn read_xlsx(bytes: &[u8]) -> Result<Sheet, SheetError> {
    if bytes.len() > MAX_BYTES {
        return Err(SheetError::TooLarge);
    }
    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| SheetError::NotXlsx(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or(SheetError::NoSheet)?
        .map_err(|e| SheetError::NotXlsx(e.to_string()))?;
    let (first_row, first_col) = range.start().ok_or(SheetError::Empty)?;
    let mut rows = range
        .rows()
        .enumerate()
        .filter(|(_, cells)| !cells.iter().all(is_blank));
    let (header_index, header) = rows.next().ok_or(SheetError::Empty)?;
    let last_header = header
        .iter()
        .rposition(|c| !is_blank(c))
        .ok_or(SheetError::Empty)?;
    let mut columns: Vec<Column> = Vec::new();
    for (i, cell) in header.iter().enumerate().take(last_header + 1) {
        let letter = column_letter(first_col as usize + i);
        let label = cell.to_string().trim().to_string();
        let key = key_of(&label);
        if key.is_empty() {
            return Err(SheetError::MissingHeader { letter });
        }
        if let Some(previous) = columns.iter().find(|c| c.key == key) {
            return Err(SheetError::DuplicateHeader {
                key,
                first: previous.letter.clone(),
                second: letter,
            });
        }
        columns.push(Column { key, label, letter });
    }
    let mut data = Vec::new();
    for (index, cells) in rows {
        if data.len() >= MAX_ROWS {
            return Err(SheetError::TooManyRows);
        }
        let mut values = Map::new();
        for (column, cell) in columns.iter().zip(cells.iter()) {
            if let Some(value) = value_of(cell) {
                values.insert(column.key.clone(), value);
            }
        }
        if !values.is_empty() {
            data.push((first_row as usize + index + 1, values));
        }
    }
    let _ = header_index;
    Ok(Sheet {
        columns,
        rows: data,
    })
}

fn is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn value_of(cell: &Data) -> Option<Value> {
    Some(match cell {
        Data::Empty => return None,
        Data::String(s) if s.trim().is_empty() => return None,
        Data::String(s) => Value::String(s.trim().to_string()),
        Data::Int(i) => Value::from(*i),
        // Whole numbers stay integers: a phone number typed as a number
        // must not become "912345678.0".
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Value::from(*f as i64),
        Data::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number)?,
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(dt) => {
            let naive = dt.as_datetime()?;
            if naive.time() == chrono::NaiveTime::MIN {
                Value::String(naive.date().format("%Y-%m-%d").to_string())
            } else {
                // Excel has no zone: the workbook's times are local times.
                Value::String(naive.format("%Y-%m-%dT%H:%M:%S").to_string())
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => Value::String(s.clone()),
        Data::Error(e) => Value::String(format!("#{e:?}")),
    })
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column index.
pub fn column_letter(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push((b'A' + (index % 26) as u8) as char);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.iter().rev().collect()
}

/// A stable variable key for a header label: lowercase ASCII without
/// Vietnamese diacritics, words joined by `_` (`Số điện thoại` →
/// `so_dien_thoai`, `Ngày giao (dự kiến)` → `ngay_giao_du_kien`).
pub fn key_of(label: &str) -> String {
    let mut key = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        let c = fold(c);
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    let key = key.trim_end_matches('_').to_string();
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        format!("cot_{key}")
    } else {
        key
    }
}

/// The base letter of a Vietnamese (or other Latin) letter.
fn fold(c: char) -> char {
    const GROUPS: &[(&str, char)] = &[
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ìíỉĩị", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ùúủũụưừứửữự", 'u'),
        ("ỳýỷỹỵ", 'y'),
        ("đ", 'd'),
    ];
    GROUPS
        .iter()
        .find(|(set, _)| set.contains(c))
        .map_or(c, |(_, base)| *base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    fn workbook(build: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
        let mut book = Workbook::new();
        build(book.add_worksheet());
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn vietnamese_headers_get_stable_keys() {
        // SPEC A-T4
        assert_eq!(key_of("Số điện thoại"), "so_dien_thoai");
        assert_eq!(key_of("  Ngày giao (dự kiến) "), "ngay_giao_du_kien");
        assert_eq!(key_of("Họ và Tên"), "ho_va_ten");
        assert_eq!(key_of("2024 doanh số"), "cot_2024_doanh_so");
        assert_eq!(key_of("!!!"), "");
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(27), "AB");
    }

    #[test]
    fn reads_header_and_typed_rows_skipping_empty_ones() {
        // SPEC A-T4
        let date = Format::new().set_num_format("dd/mm/yyyy");
        let bytes = workbook(|s| {
            s.write(0, 0, "Họ tên").unwrap();
            s.write(0, 1, "Số điện thoại").unwrap();
            s.write(0, 2, "Tổng tiền").unwrap();
            s.write(0, 3, "Ngày giao").unwrap();
            s.write(1, 0, "Nguyễn Lan").unwrap();
            s.write(1, 1, 912345678).unwrap();
            s.write(1, 2, 1250000.5).unwrap();
            s.write_with_format(1, 3, ExcelDateTime::from_ymd(2026, 12, 1).unwrap(), &date)
                .unwrap();
            s.write(3, 0, "Trần An").unwrap();
            s.write(3, 1, "0987654321").unwrap();
        });
        let sheet = read_xlsx(&bytes).unwrap();
        let keys: Vec<_> = sheet.columns.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["ho_ten", "so_dien_thoai", "tong_tien", "ngay_giao"]);
        assert_eq!(sheet.columns[1].label, "Số điện thoại");
        assert_eq!(sheet.rows.len(), 2, "the empty row 3 is skipped");
        let (row, first) = &sheet.rows[0];
        assert_eq!(*row, 2);
        assert_eq!(first["so_dien_thoai"], 912345678);
        assert_eq!(first["tong_tien"], 1250000.5);
        assert_eq!(first["ngay_giao"], "2026-12-01");
        assert_eq!(sheet.rows[1].0, 4);
        assert_eq!(sheet.rows[1].1["so_dien_thoai"], "0987654321");
    }

    #[test]
    fn refuses_files_that_are_not_usable_sheets() {
        // SPEC A-T4
        assert!(matches!(
            read_xlsx(b"name,phone\nAn,0912"),
            Err(SheetError::NotXlsx(_))
        ));
        assert_eq!(read_xlsx(&workbook(|_| {})), Err(SheetError::Empty));
        let dup = workbook(|s| {
            s.write(0, 0, "Số ĐT").unwrap();
            s.write(0, 1, "so dt").unwrap();
        });
        assert_eq!(
            read_xlsx(&dup),
            Err(SheetError::DuplicateHeader {
                key: "so_dt".into(),
                first: "A".into(),
                second: "B".into()
            })
        );
        let hole = workbook(|s| {
            s.write(0, 0, "Tên").unwrap();
            s.write(0, 2, "Tuổi").unwrap();
        });
        assert_eq!(
            read_xlsx(&hole),
            Err(SheetError::MissingHeader { letter: "B".into() })
        );
        assert_eq!(
            read_xlsx(&vec![0u8; MAX_BYTES + 1]),
            Err(SheetError::TooLarge)
        );
    }
}
