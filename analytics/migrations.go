package analytics

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// features are the table options a server supports. 18.16 (Debian) has
// none of them; every server from 20.x on has all.
type features struct {
	Modern bool
}

func featuresFor(version string) features {
	major, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	return features{Modern: major >= 20}
}

// migration is one versioned schema step. Statements must be idempotent
// (IF NOT EXISTS) because a crash between the DDL and its record in
// schema_migrations re-runs the step.
type migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// ddl expands the placeholders of a portable statement: LC(String) becomes
// LowCardinality(String), {zstd} a ZSTD codec and {ttl_audit} a retention
// TTL on modern servers, and plain types or nothing on 18.16.
func ddl(f features, s string) string {
	lc, zstd, ttl := "String", "", ""
	if f.Modern {
		lc, zstd, ttl = "LowCardinality(String)", " CODEC(ZSTD(1))", "\nTTL at + INTERVAL 400 DAY"
	}
	return strings.NewReplacer("LC(String)", lc, "{zstd}", zstd, "{ttl_audit}", ttl).Replace(s)
}

var migrations = []migration{
	{1, "touches, score_ledger, crossings", []string{
		`CREATE TABLE IF NOT EXISTS touches (
    event_id     String,
    contact_id   String,
    company_id   String,
    type         LC(String),
    channel      LC(String),
    campaign     LC(String),
    occurred_at  DateTime,
    occurred_us  Int64,
    properties   String{zstd},
    rule_version LC(String),
    ingested_at  DateTime,
    version      UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (contact_id, event_id)`,
		`CREATE TABLE IF NOT EXISTS score_ledger (
    contact_id   String,
    model        LC(String),
    event_id     String,
    group_name   LC(String),
    points       Int64,
    delta        Int64,
    occurred_at  DateTime,
    occurred_us  Int64,
    rule_version LC(String),
    ingested_at  DateTime,
    version      UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (contact_id, model, event_id, group_name)`,
		`CREATE TABLE IF NOT EXISTS crossings (
    crossing_id    String,
    contact_id     String,
    company_id     String,
    model          LC(String),
    threshold_name LC(String),
    threshold      Int64,
    score          Int64,
    crossed_at     DateTime,
    crossed_us     Int64,
    event_id       String,
    rule_version   LC(String),
    ingested_at    DateTime,
    version        UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(crossed_at)
ORDER BY (contact_id, crossing_id)`,
	}},
	{2, "bridge: decisions, api_calls, enrollment_events", []string{
		`CREATE TABLE IF NOT EXISTS decisions (
    decision_id String,
    crossing_id String,
    contact_id  String,
    company_id  String,
    model       LC(String),
    target_kind LC(String),
    target_id   String,
    sender      String,
    outcome     LC(String),
    reason      String,
    detail      String{zstd},
    decided_at  DateTime,
    decided_us  Int64,
    ingested_at DateTime,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(decided_at)
ORDER BY (contact_id, decision_id)`,
		`CREATE TABLE IF NOT EXISTS api_calls (
    call_id        String,
    contact_id     String,
    crossing_id    String,
    method         LC(String),
    path           String,
    status         Int64,
    latency_ms     Int64,
    correlation_id String,
    request_body   String{zstd},
    response_body  String{zstd},
    error          String,
    at             DateTime,
    at_us          Int64,
    ingested_at    DateTime,
    version        UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(at)
ORDER BY (contact_id, call_id){ttl_audit}`,
		`CREATE TABLE IF NOT EXISTS enrollment_events (
    event_id    String,
    contact_id  String,
    sequence_id String,
    owner_id    String,
    crossing_id String,
    kind        LC(String),
    reason      String,
    at          DateTime,
    at_us       Int64,
    ingested_at DateTime,
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(at)
ORDER BY (contact_id, event_id)`,
	}},
	// The contact snapshot of each event: rules read contact.X, so
	// replaying the stored history (rescore) needs it.
	{3, "touches.contact", []string{
		`ALTER TABLE touches ADD COLUMN contact String DEFAULT '{}'{zstd}`,
	}},
	// The bridge's write-back of scores to HubSpot contact properties: one
	// row per contact write (writeback.go).
	{4, "writeback", []string{
		`CREATE TABLE IF NOT EXISTS writeback (
    contact_id   String,
    properties   String{zstd},
    result       LC(String),
    error        String,
    rule_version LC(String),
    scores_at    DateTime,
    scores_us    Int64,
    written_at   DateTime,
    written_us   Int64,
    ingested_at  DateTime,
    version      UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(written_at)
ORDER BY (contact_id, written_us)`,
	}},
	// Company (account) score changes, one row per change of a company's
	// score in a company model; replays collapse on the causing change.
	{5, "company_scores", []string{companyScoresDDL}},
	// The write-back writes company properties too: the object type of
	// each row (contact_id then holds the company's id).
	{6, "writeback.object", []string{
		`ALTER TABLE writeback ADD COLUMN object LC(String) DEFAULT 'contacts'`,
	}},
}

const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version        UInt32,
    name           String,
    server_version String,
    modern         UInt8,
    applied_at     DateTime
) ENGINE = ReplacingMergeTree()
ORDER BY version`

// serverVersion asks the server for its version string, e.g. "18.16.1".
func serverVersion(ctx context.Context, c db) (string, error) {
	rows, err := c.query(ctx, "SELECT version()")
	if err != nil {
		return "", fmt.Errorf("reading server version: %w", err)
	}
	defer rows.Close()
	var v string
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return "", fmt.Errorf("reading server version: %w", err)
		}
	}
	return v, rows.Err()
}

// migrate applies every migration not yet recorded, in order, and returns
// the versions it applied.
func migrate(ctx context.Context, c db) ([]uint32, error) {
	version, err := serverVersion(ctx, c)
	if err != nil {
		return nil, err
	}
	f := featuresFor(version)
	if err := c.exec(ctx, schemaMigrationsDDL); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	done := map[uint32]bool{}
	rows, err := c.query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading schema_migrations: %w", err)
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	var applied []uint32
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		for i, s := range m.Statements {
			if err := c.exec(ctx, ddl(f, s)); err != nil {
				return applied, fmt.Errorf("migration %d (%s), statement %d on ClickHouse %s: %w", m.Version, m.Name, i+1, version, err)
			}
		}
		modern := uint8(0)
		if f.Modern {
			modern = 1
		}
		err := c.insert(ctx, "schema_migrations",
			[]string{"version", "name", "server_version", "modern", "applied_at"},
			[]any{[]uint32{m.Version}, []string{m.Name}, []string{version}, []uint8{modern}, []time.Time{time.Now().UTC()}})
		if err != nil {
			return applied, fmt.Errorf("recording migration %d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}
