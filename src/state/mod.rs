//! The tool's own tables in the state store: runs, the run lock, holds, requests.
