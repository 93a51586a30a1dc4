// Package chdb binds chDB's C API (ClickHouse 26 embedded in the process)
// for the analytics tests that prove the schema and every report query on
// a modern server (scripts/chdb-test.sh, build tag chdb). Only tests import
// it; libchdb.so comes from npm @chdb/lib-linux-x64-gnu, unpacked into
// .local/chdb/package at the repository root (never committed).
package chdb
