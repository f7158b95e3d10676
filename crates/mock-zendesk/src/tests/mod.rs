//! Behaviour tests (in-process and over HTTP).
