//! The errors a scrape can end with: the Python exception the stock check raises there, and its
//! message.

use std::fmt;

/// The Python exception class a failed scrape raises in the stock check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Value,
    Index,
    Key,
    Overflow,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Value => "ValueError",
            ErrorKind::Index => "IndexError",
            ErrorKind::Key => "KeyError",
            ErrorKind::Overflow => "OverflowError",
        }
    }
}

/// Why a scrape stopped. Whatever was submitted before it stays submitted, as in the stock check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeError {
    pub kind: ErrorKind,
    /// The exception argument (`str(exc)` is this text, except for `KeyError`, which quotes it).
    pub message: String,
}

impl ScrapeError {
    pub fn value(message: impl Into<String>) -> Self {
        ScrapeError {
            kind: ErrorKind::Value,
            message: message.into(),
        }
    }

    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ScrapeError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

pub type ScrapeResult<T> = Result<T, ScrapeError>;
