//! Problems found in configuration and rule files, each naming the file, line and field.
