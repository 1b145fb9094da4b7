//! Example support code.
