//! Problems found in configuration and rule files, each naming the file, line and field.
//!
//! Loaders never stop at the first problem: they collect [`Diagnostic`]s and hand back
//! [`Diagnostics`] so a user fixes every mistake in one pass. Each diagnostic prints as
//! `file:line: field: message`, where `field` is a path such as
//! `targets[0].anonymise.latitude` and the message says what would fix it. Messages never
//! quote a secret: a bad key is described by its length, not shown.

use crate::exit::Refusal;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line; 0 when the problem concerns the file as a whole (it cannot be read).
    pub line: usize,
    /// The field path, e.g. `targets[0].table`; empty for the file as a whole.
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(
        file: &Path,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found, in file and line order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was found, otherwise every problem sorted by file and line
    /// (stable, so problems on one line keep the order they were found in).
    pub fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            self.0
                .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            Err(self)
        }
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(v: Vec<Diagnostic>) -> Self {
        Diagnostics(v)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostics> for Refusal {
    fn from(d: Diagnostics) -> Self {
        Refusal::Invalid(d.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_print_file_line_field_and_message_one_per_line() {
        let f = Path::new("rules/location.yaml");
        let d: Diagnostics = vec![
            Diagnostic::new(f, 7, "targets[0].table", "write a plain name"),
            Diagnostic::new(f, 0, "", "cannot be read"),
        ]
        .into();
        assert_eq!(
            d.to_string(),
            "rules/location.yaml:7: targets[0].table: write a plain name\n\
             rules/location.yaml: cannot be read"
        );
        let sorted = d.into_result(()).unwrap_err();
        assert_eq!(sorted.iter().next().map(|d| d.line), Some(0));
    }
}
