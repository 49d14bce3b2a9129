//! A PostgreSQL partition's row count and keys digest, hashed as its keys stream from the
//! server in binary `COPY`, in the order `stores::sql::batch::sort_keys` puts keys (integer
//! columns numerically, the others by the bytes of their text): the same digest as
//! `execute::keys_digest` over the keys read as text, without holding a key in memory.
//!
//! Keys made only of integers (`int2`, `int4`, `int8`), `timestamptz`, `timestamp` and
//! `date` are read in their binary form, ordered by the server in their own types (an
//! index-only scan of the primary key, no sort) and written as text here, exactly as
//! PostgreSQL writes them in the session the tool sets up (`DateStyle` ISO, time zone
//! UTC). For these types the typed order is the text order as long as every year has four
//! digits and none is BC; a value outside that range makes the digest start again from
//! the text of the keys, ordered by the server. Any other key is read as text.

use super::select::{PreparedTable, T};
use super::value::ColumnKind;
use anyhow::{bail, Result};
use sha2::{Digest, Sha256};

/// The count of rows and the keys digest of `from` (a quoted relation), in the caller's
/// transaction and snapshot.
pub async fn pg_keys_digest(
    conn: &mut sqlx::PgConnection,
    p: &PreparedTable,
    from: &str,
) -> Result<(u64, String)> {
    if let Some(types) = binary_types(p) {
        match typed_digest(conn, p, from, &types).await? {
            Typed::Done(count, digest) => return Ok((count, digest)),
            Typed::OutOfRange => {
                tracing::debug!(table = %p.target.table, "A key value's text does not sort like its type; digesting the keys as text.");
            }
        }
    }
    text_digest(conn, p, from).await
}

/// The binary form of a key column this module writes as text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    Int,
    Timestamptz,
    Timestamp,
    Date,
}

fn binary_types(p: &PreparedTable) -> Option<Vec<Binary>> {
    p.keys
        .iter()
        .map(|k| match (k.kind, k.type_name.as_str()) {
            (ColumnKind::Int, "int2" | "int4" | "int8") => Some(Binary::Int),
            (ColumnKind::Instant, "timestamptz") => Some(Binary::Timestamptz),
            (ColumnKind::Naive, "timestamp") => Some(Binary::Timestamp),
            (ColumnKind::Date, "date") => Some(Binary::Date),
            _ => None,
        })
        .collect()
}

enum Typed {
    Done(u64, String),
    /// A value whose text would not sort like its type (BC, or a year past 9999).
    OutOfRange,
}

async fn typed_digest(
    conn: &mut sqlx::PgConnection,
    p: &PreparedTable,
    from: &str,
    types: &[Binary],
) -> Result<Typed> {
    use futures::TryStreamExt;
    let cols: Vec<String> = p.keys.iter().map(|k| p.dialect.col(T, &k.name)).collect();
    let sql = format!(
        "COPY (SELECT {} FROM {from} ORDER BY {}) TO STDOUT WITH (FORMAT binary)",
        cols.join(", "),
        cols.join(", ")
    );
    let mut stream = conn.copy_out_raw(&sql).await?;
    let mut rows = CopyRows::new(types.len());
    let mut hash = Sha256::new();
    let mut line: Vec<u8> = Vec::with_capacity(64);
    let mut out_of_range = false;
    let mut failed = None;
    while let Some(chunk) = stream.try_next().await? {
        if out_of_range || failed.is_some() {
            continue; // drain the stream: the connection is needed again
        }
        let fed = rows.feed(&chunk, |fields| {
            line.clear();
            for (i, (field, ty)) in fields.iter().zip(types).enumerate() {
                if i > 0 {
                    line.push(0x1f);
                }
                if !write_binary(&mut line, *ty, field)? {
                    out_of_range = true;
                    return Ok(false);
                }
            }
            line.push(b'\n');
            hash.update(&line);
            Ok(true)
        });
        failed = fed.err();
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if out_of_range {
        return Ok(Typed::OutOfRange);
    }
    if !rows.finished {
        bail!("the key stream of `{from}` ended early");
    }
    Ok(Typed::Done(
        rows.count,
        format!("sha256:{}", hex::encode(hash.finalize())),
    ))
}

async fn text_digest(
    conn: &mut sqlx::PgConnection,
    p: &PreparedTable,
    from: &str,
) -> Result<(u64, String)> {
    use futures::TryStreamExt;
    let texts: Vec<String> = p
        .keys
        .iter()
        .map(|k| p.dialect.as_text(&p.dialect.col(T, &k.name)))
        .collect();
    // As `batch::sort_keys` orders keys: integer columns numerically, the others by the
    // bytes of their text. A column taken for an integer by its type's name only (a domain,
    // an enum called `paint`) is ordered numerically where its text is a number, like
    // `sort_keys`, never in the type's own order or a collation's.
    let order: Vec<String> = p
        .keys
        .iter()
        .zip(&texts)
        .map(|(k, text)| match (k.kind, k.type_name.as_str()) {
            (ColumnKind::Int, "int2" | "int4" | "int8") => p.dialect.col(T, &k.name),
            (ColumnKind::Int, _) => format!(
                "CASE WHEN {text} ~ '^-?[0-9]{{1,19}}$' THEN CAST({text} AS NUMERIC) END, {text} COLLATE \"C\""
            ),
            _ => format!("{text} COLLATE \"C\""),
        })
        .collect();
    let sql = format!(
        "COPY (SELECT {} FROM {from} ORDER BY {}) TO STDOUT WITH (FORMAT binary)",
        texts.join(" || chr(31) || "),
        order.join(", ")
    );
    let mut stream = conn.copy_out_raw(&sql).await?;
    let mut rows = CopyRows::new(1);
    let mut hash = Sha256::new();
    let mut failed = None;
    while let Some(chunk) = stream.try_next().await? {
        if failed.is_some() {
            continue; // drain the stream: the connection is needed again
        }
        let fed = rows.feed(&chunk, |fields| {
            hash.update(fields[0]);
            hash.update(b"\n");
            Ok(true)
        });
        failed = fed.err();
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if !rows.finished {
        bail!("the key stream of `{from}` ended early");
    }
    Ok((
        rows.count,
        format!("sha256:{}", hex::encode(hash.finalize())),
    ))
}

/// Microseconds and days between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

/// Appends the text PostgreSQL gives a binary value of `ty`; `false` when that text would
/// not sort like the value (see the module comment).
fn write_binary(out: &mut Vec<u8>, ty: Binary, field: &[u8]) -> Result<bool> {
    match (ty, field.len()) {
        (Binary::Int, 2) => push_int(out, i64::from(i16::from_be_bytes([field[0], field[1]]))),
        (Binary::Int, 4) => push_int(out, i64::from(i32::from_be_bytes(field.try_into()?))),
        (Binary::Int, 8) => push_int(out, i64::from_be_bytes(field.try_into()?)),
        (Binary::Timestamptz | Binary::Timestamp, 8) => {
            let micros = i64::from_be_bytes(field.try_into()?);
            match micros {
                i64::MAX => out.extend_from_slice(b"infinity"),
                i64::MIN => out.extend_from_slice(b"-infinity"),
                _ => {
                    let days = micros.div_euclid(86_400_000_000);
                    let in_day = micros.rem_euclid(86_400_000_000);
                    if !write_date(out, days + PG_EPOCH_DAYS) {
                        return Ok(false);
                    }
                    let secs = (in_day / 1_000_000) as u32;
                    let frac = (in_day % 1_000_000) as u32;
                    out.push(b' ');
                    push_padded(out, secs / 3600, 2);
                    out.push(b':');
                    push_padded(out, secs / 60 % 60, 2);
                    out.push(b':');
                    push_padded(out, secs % 60, 2);
                    if frac != 0 {
                        out.push(b'.');
                        let at = out.len();
                        push_padded(out, frac, 6);
                        while out.len() > at && out.last() == Some(&b'0') {
                            out.pop();
                        }
                    }
                    if ty == Binary::Timestamptz {
                        out.extend_from_slice(b"+00");
                    }
                }
            }
        }
        (Binary::Date, 4) => match i32::from_be_bytes(field.try_into()?) {
            i32::MAX => out.extend_from_slice(b"infinity"),
            i32::MIN => out.extend_from_slice(b"-infinity"),
            days => {
                if !write_date(out, i64::from(days) + PG_EPOCH_DAYS) {
                    return Ok(false);
                }
            }
        },
        (_, len) => bail!("a key value of {len} bytes is not a {ty:?} in binary COPY"),
    }
    Ok(true)
}

/// Appends `v` in decimal.
fn push_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` in decimal, zero-padded to `width` digits (`v` has no more).
fn push_padded(out: &mut Vec<u8>, v: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    let mut n = v;
    for i in (start..start + width).rev() {
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Appends `YYYY-MM-DD` for a day counted from 1970-01-01; `false` for a year before 1 or
/// after 9999 (PostgreSQL writes those as `… BC` or with more digits).
fn write_date(out: &mut Vec<u8>, days_since_1970: i64) -> bool {
    let (y, m, d) = civil_from_days(days_since_1970);
    if !(1..=9999).contains(&y) {
        return false;
    }
    push_padded(out, y as u32, 4);
    out.push(b'-');
    push_padded(out, m, 2);
    out.push(b'-');
    push_padded(out, d, 2);
    true
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses PostgreSQL's binary COPY format, across chunk boundaries.
struct CopyRows {
    fields: usize,
    pending: Vec<u8>,
    header_done: bool,
    finished: bool,
    count: u64,
}

impl CopyRows {
    const SIGNATURE: &'static [u8] = b"PGCOPY\n\xff\r\n\0";

    fn new(fields: usize) -> CopyRows {
        CopyRows {
            fields,
            pending: Vec::new(),
            header_done: false,
            finished: false,
            count: 0,
        }
    }

    /// Takes the next bytes of the stream, calling `row` with each row's values; `row`
    /// returns `false` to stop reading rows.
    fn feed(&mut self, chunk: &[u8], mut row: impl FnMut(&[&[u8]]) -> Result<bool>) -> Result<()> {
        let joined;
        let buf: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            self.pending.extend_from_slice(chunk);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        let mut at = 0;
        let be_i32 = |b: &[u8]| i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        if !self.header_done {
            // Signature, flags (i32), header extension length (i32) and extension.
            if buf.len() < 19 {
                self.pending = buf.to_vec();
                return Ok(());
            }
            if &buf[..11] != Self::SIGNATURE {
                bail!("the server's COPY output is not in the binary format");
            }
            let ext = usize::try_from(be_i32(&buf[15..19])).unwrap_or(usize::MAX);
            if buf.len() < 19 + ext {
                self.pending = buf.to_vec();
                return Ok(());
            }
            at = 19 + ext;
            self.header_done = true;
        }
        let mut values: Vec<&[u8]> = Vec::with_capacity(self.fields);
        'rows: while at + 2 <= buf.len() && !self.finished {
            let fields = i16::from_be_bytes([buf[at], buf[at + 1]]);
            if fields == -1 {
                self.finished = true;
                at += 2;
                break;
            }
            if usize::try_from(fields).ok() != Some(self.fields) {
                bail!("a COPY row has {fields} fields, expected {}", self.fields);
            }
            values.clear();
            let mut end = at + 2;
            for _ in 0..self.fields {
                if end + 4 > buf.len() {
                    break 'rows;
                }
                let len = be_i32(&buf[end..end + 4]);
                if len < 0 {
                    bail!("a key is NULL in the COPY output");
                }
                let stop = end + 4 + len as usize;
                if stop > buf.len() {
                    break 'rows;
                }
                values.push(&buf[end + 4..stop]);
                end = stop;
            }
            self.count += 1;
            at = end;
            if !row(&values)? {
                self.finished = true;
                break;
            }
        }
        self.pending = buf[at..].to_vec();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[&[&[u8]]]) -> Vec<u8> {
        let mut s = CopyRows::SIGNATURE.to_vec();
        s.extend_from_slice(&0i32.to_be_bytes());
        s.extend_from_slice(&4i32.to_be_bytes());
        s.extend_from_slice(b"ext!");
        for row in rows {
            s.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for v in *row {
                s.extend_from_slice(&(v.len() as i32).to_be_bytes());
                s.extend_from_slice(v);
            }
        }
        s.extend_from_slice(&(-1i16).to_be_bytes());
        s
    }

    #[test]
    fn binary_copy_rows_are_read_across_any_chunk_boundary() {
        let rows: &[&[&[u8]]] = &[&[b"1", b"x"], &[b"22", b"2026-01-01"], &[b"", b""]];
        let bytes = stream(rows);
        for size in 1..=bytes.len() {
            let mut copy = CopyRows::new(2);
            let mut seen = Vec::new();
            for chunk in bytes.chunks(size) {
                copy.feed(chunk, |f| {
                    seen.push(f.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
                    Ok(true)
                })
                .unwrap();
            }
            assert!(copy.finished, "chunks of {size}");
            assert_eq!(copy.count, 3);
            let want: Vec<Vec<Vec<u8>>> = rows
                .iter()
                .map(|r| r.iter().map(|v| v.to_vec()).collect())
                .collect();
            assert_eq!(seen, want, "chunks of {size}");
        }
        let mut copy = CopyRows::new(1);
        assert!(copy
            .feed(b"PGCOPY\nXXXXXXXXXXXXXXXXXX", |_| Ok(true))
            .is_err());
        let mut copy = CopyRows::new(1);
        assert!(copy.feed(&stream(&[&[b"1", b"2"]]), |_| Ok(true)).is_err());
    }

    fn text(ty: Binary, bytes: &[u8]) -> Option<String> {
        let mut s = Vec::new();
        write_binary(&mut s, ty, bytes)
            .unwrap()
            .then(|| String::from_utf8(s).unwrap())
    }

    #[test]
    fn binary_values_are_written_as_postgresql_writes_them() {
        let ts = |micros: i64| text(Binary::Timestamptz, &micros.to_be_bytes());
        assert_eq!(ts(0).unwrap(), "2000-01-01 00:00:00+00");
        assert_eq!(ts(-1).unwrap(), "1999-12-31 23:59:59.999999+00");
        assert_eq!(ts(500_000).unwrap(), "2000-01-01 00:00:00.5+00");
        assert_eq!(ts(1_000_120).unwrap(), "2000-01-01 00:00:01.00012+00");
        assert_eq!(ts(i64::MAX).unwrap(), "infinity");
        assert_eq!(ts(i64::MIN).unwrap(), "-infinity");
        // 2024-02-29 12:34:56 UTC, a leap day.
        let leap = (1_709_210_096 - PG_EPOCH_DAYS * 86_400) * 1_000_000;
        assert_eq!(ts(leap).unwrap(), "2024-02-29 12:34:56+00");
        assert_eq!(
            text(Binary::Timestamp, &leap.to_be_bytes()).unwrap(),
            "2024-02-29 12:34:56"
        );
        // Year 1 is written; year 0 (1 BC) and 10000 are not in the typed order.
        let day = 86_400_000_000i64;
        let year1 = -(730_119 * day);
        assert_eq!(ts(year1).unwrap(), "0001-01-01 00:00:00+00");
        assert_eq!(ts(year1 - 1), None);
        let year10000 = (2_932_897 - PG_EPOCH_DAYS) * day;
        assert_eq!(ts(year10000 - 1).unwrap(), "9999-12-31 23:59:59.999999+00");
        assert_eq!(ts(year10000), None);
        let date = |days: i32| text(Binary::Date, &days.to_be_bytes());
        assert_eq!(date(0).unwrap(), "2000-01-01");
        assert_eq!(date(-10_957).unwrap(), "1970-01-01");
        assert_eq!(date(i32::MAX).unwrap(), "infinity");
        assert_eq!(text(Binary::Int, &(-7i16).to_be_bytes()).unwrap(), "-7");
        assert_eq!(
            text(Binary::Int, &70_000i32.to_be_bytes()).unwrap(),
            "70000"
        );
        assert_eq!(
            text(Binary::Int, &i64::MIN.to_be_bytes()).unwrap(),
            i64::MIN.to_string()
        );
        assert!(write_binary(&mut Vec::new(), Binary::Int, &[1, 2, 3]).is_err());
        for v in [0, 9, 10, -10, 123_456_789, i64::MAX, i64::MIN + 1] {
            assert_eq!(text(Binary::Int, &v.to_be_bytes()).unwrap(), v.to_string());
        }
    }

    #[test]
    fn every_day_of_four_digit_years_is_written_like_chrono() {
        let mut out = Vec::new();
        for days in (-719_162..2_932_897).step_by(37) {
            out.clear();
            assert!(write_date(&mut out, days));
            let out = String::from_utf8(out.clone()).unwrap();
            let want = chrono::DateTime::from_timestamp(days * 86_400, 0)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string();
            assert_eq!(out, want, "day {days}");
        }
        assert!(!write_date(&mut out, -719_163));
        assert!(!write_date(&mut out, 2_932_897));
    }
}
