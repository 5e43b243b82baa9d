package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The fleet's shared queue (docs/architecture.md §3.2). A user list is
// loaded once (LoadQueue: one row per batch and UPN, ignoring ASCII
// case); benches claim rows with a lease (Claim), renew their leases with
// their heartbeat (Heartbeat), and a row whose enrollment has begun (its
// job is durable: the first side effect is journaled) is bound to the key
// it began on (BeginClaim, BindJob) until it is done or failed. A claim
// whose lease expired returns to the queue; a begun row whose lease
// expired waits for its key (ClaimBegun on the bench where the key turns
// up). At most one row per user is held (claimed or begun) at a time: the
// unique index queue_held enforces it in the database, whatever the code
// above does.
//
// Leases are compared with the store clock of the bench asking (a row's
// lease_until is in its claimer's clock): the benches' clocks must agree
// to well within a lease (NTP), which is minutes by default.

// QueueState is where a row of the queue is.
type QueueState string

// Queue states.
const (
	QueueQueued  QueueState = "queued"  // waiting for a bench
	QueueClaimed QueueState = "claimed" // leased to a bench, nothing done yet
	QueueBegun   QueueState = "begun"   // the enrollment began on a key: bound to it
	QueueDone    QueueState = "done"    // enrolled
	QueueSkipped QueueState = "skipped" // nothing to do (enrolled before)
	QueueFailed  QueueState = "failed"  // gave up (the job says why)
)

// ErrLeaseLost is returned (wrapped) when a bench acts on a queue row it
// no longer holds: its lease expired and another bench claimed the user.
var ErrLeaseLost = errors.New("store: the queue row is no longer held by this bench")

// QueueEntry is one user of a list to load.
type QueueEntry struct {
	UPN         string
	DisplayName string
	Line        int
}

// QueueItem is one row of the queue.
type QueueItem struct {
	ID          int64      `json:"id"`
	Batch       string     `json:"batch"`
	UPN         string     `json:"upn"`
	DisplayName string     `json:"displayName,omitempty"`
	Line        int        `json:"line,omitempty"`
	State       QueueState `json:"state"`
	// Bench holds (or last held) the row; LeaseUntil is when its lease
	// ends (zero: released).
	Bench      string    `json:"bench,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitempty"`
	// JobID, KeySerial and KeyPath bind a begun row to its job and key.
	JobID     string    `json:"jobId,omitempty"`
	KeySerial string    `json:"keySerial,omitempty"`
	KeyPath   string    `json:"keyPath,omitempty"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Held reports whether the row's lease is running at now.
func (q *QueueItem) Held(now time.Time) bool {
	return (q.State == QueueClaimed || q.State == QueueBegun) && q.LeaseUntil.After(now)
}

const queueCols = `id, batch, upn, display_name, line, state, bench, lease_until, job_id, key_serial, key_path,
	attempts, error, created_at, updated_at`

func scanQueue(sc scanner) (*QueueItem, error) {
	var (
		q                      QueueItem
		state, lease, cre, upd string
		line, attempts         int64
	)
	if err := sc.Scan(&q.ID, &q.Batch, &q.UPN, &q.DisplayName, &line, &state, &q.Bench, &lease, &q.JobID,
		&q.KeySerial, &q.KeyPath, &attempts, &q.Error, &cre, &upd); err != nil {
		return nil, err
	}
	q.State, q.Line, q.Attempts = QueueState(state), int(line), int(attempts)
	var err error
	if q.LeaseUntil, err = parseTime(lease); err == nil {
		if q.CreatedAt, err = parseTime(cre); err == nil {
			q.UpdatedAt, err = parseTime(upd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("queue row %d: %w", q.ID, err)
	}
	return &q, nil
}

// queueLoadedEvent is the data of the audit event "queue.loaded".
type queueLoadedEvent struct {
	Added     int    `json:"added"`
	Batch     string `json:"batch"`
	Duplicate int    `json:"duplicate"`
}

// LoadQueue adds the users of a list to the queue under batch, once: a
// user already in that batch (UPN ignoring ASCII case) is counted as a
// duplicate and left as it is, so loading the same list again adds
// nothing. One transaction, with the audit event "queue.loaded".
func (s *Store) LoadQueue(ctx context.Context, batch string, entries []QueueEntry) (added, duplicate int, err error) {
	if strings.TrimSpace(batch) == "" {
		return 0, 0, errors.New("store: load queue: empty batch name")
	}
	err = s.update(ctx, func(t *Tx) error {
		added, duplicate = 0, 0
		now := fmtTime(t.s.nowUTC())
		for _, e := range entries {
			if e.UPN == "" {
				return errors.New("store: load queue: empty UPN")
			}
			res, err := t.exec(`INSERT INTO queue (batch, upn, display_name, line, state, created_at, updated_at)
				VALUES (?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT DO NOTHING`, batch, e.UPN, e.DisplayName, e.Line, now, now)
			if err != nil {
				return fmt.Errorf("store: load queue: %s: %w", e.UPN, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				added++
			} else {
				duplicate++
			}
		}
		raw, err := marshalData(queueLoadedEvent{Added: added, Batch: batch, Duplicate: duplicate})
		if err != nil {
			return err
		}
		return t.appendAudit("queue.loaded", "", raw)
	})
	return added, duplicate, err
}

// QueueFilter selects rows for Queue. Zero fields do not filter.
type QueueFilter struct {
	Batch  string
	UPN    string // ignoring ASCII case
	States []QueueState
	Limit  int
}

// Queue returns the rows matching f in the order they were loaded.
func (s *Store) Queue(ctx context.Context, f QueueFilter) ([]QueueItem, error) {
	var (
		where []string
		args  []any
	)
	if f.Batch != "" {
		where, args = append(where, "batch = ?"), append(args, f.Batch)
	}
	if f.UPN != "" {
		where, args = append(where, s.d.ciEq("upn")), append(args, f.UPN)
	}
	if len(f.States) > 0 {
		where = append(where, inClause("state", len(f.States)))
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	out, err := queryAll(ctx, s, `SELECT `+queueCols+` FROM queue`+whereClause(where)+` ORDER BY id`+limitClause(f.Limit), args, scanQueue)
	if err != nil {
		return nil, fmt.Errorf("store: queue: %w", err)
	}
	return out, nil
}

// leaseTx runs fn in a transaction of the queue's lease bookkeeping. It
// writes no audit event, so on PostgreSQL it does not take the store's
// write lock (claimers pass each other with FOR UPDATE SKIP LOCKED and
// wait only on the rows they touch); SQLite's BEGIN IMMEDIATE serialises
// it with every other writer. A lost connection before the commit is
// retried as for any write (see update).
func (s *Store) leaseTx(ctx context.Context, fn func(*Tx) error) error {
	noLock := func(context.Context, *sql.Tx) error { return nil }
	return s.retry(ctx, func() error { return s.updateOnce(ctx, s.d.writeTx, noLock, fn) })
}

// Claim leases the next claimable user to bench for lease: the oldest
// row that is queued, or claimed under a lease that has expired (its
// bench died before beginning), and whose user no other row holds. It
// returns nil, nil when there is none. The row's Bench before the claim
// is in prevBench (a reclaim: "" for a fresh row).
func (s *Store) Claim(ctx context.Context, bench string, lease time.Duration) (q *QueueItem, prevBench string, err error) {
	if bench == "" {
		return nil, "", errors.New("store: claim: empty bench name")
	}
	for attempt := 0; ; attempt++ {
		q, prevBench, err = s.claimOnce(ctx, bench, lease)
		// Two claimers picked two rows of one user (two batches) at once:
		// queue_held refused the second; the next try skips that user.
		if err != nil && s.d.unique(err) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("store: claim: %w", err)
		}
		return q, prevBench, nil
	}
}

func (s *Store) claimOnce(ctx context.Context, bench string, lease time.Duration) (*QueueItem, string, error) {
	var (
		out  *QueueItem
		prev string
	)
	err := s.leaseTx(ctx, func(t *Tx) error {
		var err error
		out, prev, err = t.leaseFirst(`SELECT `+queueCols+` FROM queue q0
			WHERE (state = 'queued' OR (state = 'claimed' AND lease_until < ?))
			  AND NOT EXISTS (SELECT 1 FROM queue h WHERE h.state IN ('claimed', 'begun') AND h.id <> q0.id
			                  AND `+t.s.d.ciSame("h.upn", "q0.upn")+`)`,
			[]any{fmtTime(t.s.nowUTC())}, bench, lease, true)
		return err
	})
	return out, prev, err
}

// leaseFirst locks the first row (by id) that query selects, skipping
// rows another claimer holds locked (PostgreSQL's SKIP LOCKED), and
// leases it to bench: a new attempt, the lease running from now. With
// claim it also becomes "claimed" (a begun row stays begun, bound to its
// key). It returns the row as leased and the bench that held it before,
// or nil when query selects nothing.
func (t *Tx) leaseFirst(query string, args []any, bench string, lease time.Duration, claim bool) (*QueueItem, string, error) {
	rows, err := t.tx.QueryContext(t.ctx, t.s.d.q(query+` ORDER BY id LIMIT 1`+t.s.d.skipLocked), args...)
	if err != nil {
		return nil, "", err
	}
	var got []QueueItem
	for rows.Next() {
		q, err := scanQueue(rows)
		if err != nil {
			rows.Close()
			return nil, "", err
		}
		got = append(got, *q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	if len(got) == 0 {
		return nil, "", nil
	}
	q := got[0]
	prev := q.Bench
	now := t.s.nowUTC()
	q.Bench, q.LeaseUntil, q.Attempts, q.UpdatedAt = bench, now.Add(lease), q.Attempts+1, now
	set := `bench = ?, lease_until = ?, attempts = ?, updated_at = ?`
	if claim {
		q.State = QueueClaimed
		set = `state = 'claimed', ` + set
	}
	if _, err := t.exec(`UPDATE queue SET `+set+` WHERE id = ?`, bench, fmtTime(q.LeaseUntil), q.Attempts, fmtTime(now), q.ID); err != nil {
		return nil, "", err
	}
	return &q, prev, nil
}

// KeyRef is an attached key as a bench knows it: its USB serial number
// string ("" when it reports none) and its device path on this bench, or
// the begun job whose credential the bench found on it (JobID; see
// BegunCredentials).
type KeyRef struct {
	Serial string
	Path   string
	JobID  string
}

// BegunCredential is a begun row whose key reports no serial number and
// whose job has made its credential: a bench recognises that key by
// finding the credential on it (a silent assertion: no touch, no PIN).
type BegunCredential struct {
	QueueID      int64
	JobID        string
	UPN          string
	Bench        string
	CredentialID string // base64url, as the job recorded it
	AAGUID       string
}

// BegunCredentials lists the begun rows of keys without a serial number
// whose jobs recorded a credential, oldest first.
func (s *Store) BegunCredentials(ctx context.Context) ([]BegunCredential, error) {
	out, err := queryAll(ctx, s, `SELECT q.id, q.job_id, q.upn, q.bench, j.credential_id, j.aaguid
		FROM queue q JOIN jobs j ON j.id = q.job_id
		WHERE q.state = 'begun' AND q.key_serial = '' AND j.credential_id <> ''
		ORDER BY q.id`, nil, func(r scanner) (*BegunCredential, error) {
		var b BegunCredential
		return &b, r.Scan(&b.QueueID, &b.JobID, &b.UPN, &b.Bench, &b.CredentialID, &b.AAGUID)
	})
	if err != nil {
		return nil, fmt.Errorf("store: begun credentials: %w", err)
	}
	return out, nil
}

// ClaimBegun leases to bench a begun row bound to one of its keys: one
// whose key serial is a given key's, or whose job is one the bench found
// the credential of on a key (on any bench, once the lease of the bench
// that held it has expired; at once on the bench that holds it), or, for
// a key without a serial, whose key path is the key's and that this bench
// began (a device path means something only on its own machine). It
// returns nil, nil when no key of the bench has a begun row waiting.
func (s *Store) ClaimBegun(ctx context.Context, bench string, keys []KeyRef, lease time.Duration) (*QueueItem, error) {
	var (
		conds []string
		args  []any
	)
	now := s.nowUTC()
	for _, k := range keys {
		if k.JobID != "" {
			conds = append(conds, "(job_id = ? AND (bench = ? OR lease_until < ?))")
			args = append(args, k.JobID, bench, fmtTime(now))
		}
		if k.Serial != "" {
			conds = append(conds, "(key_serial = ? AND (bench = ? OR lease_until < ?))")
			args = append(args, k.Serial, bench, fmtTime(now))
		} else if k.Path != "" {
			conds = append(conds, "(key_serial = '' AND key_path = ? AND bench = ?)")
			args = append(args, k.Path, bench)
		}
	}
	if len(conds) == 0 {
		return nil, nil
	}
	var (
		out      *QueueItem
		prev, to string
	)
	err := s.leaseTx(ctx, func(t *Tx) error {
		var err error
		out, prev, err = t.leaseFirst(`SELECT `+queueCols+` FROM queue WHERE state = 'begun' AND (`+strings.Join(conds, " OR ")+`)`,
			args, bench, lease, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim a begun job: %w", err)
	}
	if out != nil {
		to = movedTo(out, prev, keys)
	}
	if to != "" {
		// Its own transaction: it writes an audit event, so it takes the
		// store's write lock, which the claims themselves do not.
		if err := s.update(ctx, func(t *Tx) error { return t.moveKey(out, prev, to) }); err != nil {
			return nil, fmt.Errorf("store: claim a begun job: %w", err)
		}
	}
	return out, nil
}

// queueKeyMovedEvent is the data of the audit event "queue.key-moved".
type queueKeyMovedEvent struct {
	FromBench string `json:"fromBench"`
	FromPath  string `json:"fromPath"`
	Bench     string `json:"bench"`
	KeyPath   string `json:"keyPath"`
}

// movedTo is the path of this bench where the key of the begun row q,
// just leased by its job (KeyRef.JobID), was found, when the row names
// another ("" otherwise). A key without a serial number that a bench
// recognised by its credential is followed there: a path means something
// only on the bench that saw the key at it, so the row must not keep the
// path of the bench it came from, where another key at that path on the
// new bench (ClaimBegun's path match) would be taken for this row's key
// and the job resumed on it.
func movedTo(q *QueueItem, prevBench string, keys []KeyRef) string {
	if q.KeySerial != "" || q.JobID == "" {
		return ""
	}
	for _, k := range keys {
		if k.JobID != q.JobID || k.Path == "" || (k.Path == q.KeyPath && prevBench == q.Bench) {
			continue
		}
		return k.Path
	}
	return ""
}

// moveKey points the row q and its job at path to on q's bench, if that
// bench still holds this claim of the row, with a queue.key-moved audit
// event.
func (t *Tx) moveKey(q *QueueItem, prevBench, to string) error {
	res, err := t.exec(`UPDATE queue SET key_path = ? WHERE id = ? AND bench = ? AND attempts = ? AND state = 'begun'`,
		to, q.ID, q.Bench, q.Attempts)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // the claim changed hands since: not this bench's to move
	}
	if _, err := t.exec(`UPDATE jobs SET key_path = ?, bench = ? WHERE id = ?`, to, q.Bench, q.JobID); err != nil {
		return err
	}
	from := q.KeyPath
	q.KeyPath = to
	raw, err := marshalData(queueKeyMovedEvent{FromBench: prevBench, FromPath: from, Bench: q.Bench, KeyPath: to})
	if err != nil {
		return err
	}
	return t.appendAudit("queue.key-moved", q.JobID, raw)
}

// queueBegunEvent is the data of the audit event "queue.begun".
type queueBegunEvent struct {
	Bench   string `json:"bench"`
	KeyPath string `json:"keyPath"`
	Serial  string `json:"serial"`
	UPN     string `json:"upn"`
}

// BeginClaim binds the claimed row id to job (its key's serial and path)
// in t, the transaction that makes the job durable with its first
// journal row: the row becomes begun only if bench still holds it
// (claimed, or begun by an earlier job of the user that was abandoned), and
// otherwise the whole transaction fails with an error wrapping
// ErrLeaseLost, so a bench whose claim was taken over never begins a
// side effect on that user. It also records bench on the job.
func (t *Tx) BeginClaim(claim *QueueItem, job *Job) error {
	if err := t.bindRow(claim, job, true); err != nil {
		return fmt.Errorf("store: begin queue row %d: %w", claim.ID, err)
	}
	return nil
}

// BindJob binds the row id, which bench holds, to job, an unfinished
// enrollment of the same user found when the row was claimed (a bench
// died between making the job durable and marking the row begun, or the
// job predates the queue). With release the lease ends at once: the
// job's key is not on this bench and the row waits for it.
func (s *Store) BindJob(ctx context.Context, claim *QueueItem, job *Job, release bool) error {
	return s.update(ctx, func(t *Tx) error {
		if err := t.bindRow(claim, job, false); err != nil {
			return fmt.Errorf("store: bind queue row %d to job %s: %w", claim.ID, job.ID, err)
		}
		if release {
			_, err := t.exec(`UPDATE queue SET lease_until = '' WHERE id = ?`, claim.ID)
			return err
		}
		return nil
	})
}

// bindRow binds the row of claim — this very claim: its bench and its
// attempt number, which every claim of the row increments, so a claim
// that ran out and was taken again, even by another slot of the same
// bench, is never bound — to job.
func (t *Tx) bindRow(claim *QueueItem, job *Job, recordBench bool) error {
	if job == nil || job.ID == "" {
		return errors.New("no job")
	}
	id, bench := claim.ID, claim.Bench
	cond := `state IN ('claimed', 'begun')`
	now := fmtTime(t.s.nowUTC())
	// One conditional statement: under PostgreSQL's READ COMMITTED it
	// re-checks the row's latest version once it holds the row's lock,
	// so a claim that changed hands since is never bound.
	res, err := t.exec(`UPDATE queue SET state = 'begun', job_id = ?, key_serial = ?, key_path = ?, updated_at = ?
		WHERE id = ? AND bench = ? AND attempts = ? AND `+cond, job.ID, job.Serial, job.KeyPath, now, id, bench, claim.Attempts)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrLeaseLost
	}
	var upn string
	if err := t.queryRow(`SELECT upn FROM queue WHERE id = ?`, []any{id}, &upn); err != nil {
		return err
	}
	if recordBench {
		job.Bench = bench
		if _, err := t.exec(`UPDATE jobs SET bench = ? WHERE id = ?`, bench, job.ID); err != nil {
			return err
		}
	}
	raw, err := marshalData(queueBegunEvent{Bench: bench, KeyPath: job.KeyPath, Serial: job.Serial, UPN: upn})
	if err != nil {
		return err
	}
	return t.appendAudit("queue.begun", job.ID, raw)
}

// Release gives up bench's hold on row id: a claimed row goes back to
// the queue (nothing was done); a begun row stays bound to its key, its
// lease ended: it waits for the key (why says why, for the fleet view).
func (s *Store) Release(ctx context.Context, id int64, bench, why string) error {
	err := s.leaseTx(ctx, func(t *Tx) error {
		now := fmtTime(t.s.nowUTC())
		_, err := t.exec(`UPDATE queue SET state = CASE WHEN state = 'claimed' THEN 'queued' ELSE state END,
			lease_until = '', error = ?, updated_at = ? WHERE id = ? AND bench = ? AND state IN ('claimed', 'begun')`, why, now, id, bench)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: release queue row %d: %w", id, err)
	}
	return nil
}

// FinishClaim settles row id, which bench holds: done, skipped or failed
// (errText says why), with the job that did it. A row bench no longer
// holds gives an error wrapping ErrLeaseLost.
func (s *Store) FinishClaim(ctx context.Context, id int64, bench string, state QueueState, jobID, errText string) error {
	switch state {
	case QueueDone, QueueSkipped, QueueFailed:
	default:
		return fmt.Errorf("store: finish queue row %d: not a final state %q", id, state)
	}
	err := s.leaseTx(ctx, func(t *Tx) error {
		now := fmtTime(t.s.nowUTC())
		res, err := t.exec(`UPDATE queue SET state = ?, job_id = CASE WHEN ? = '' THEN job_id ELSE ? END, error = ?,
			lease_until = '', updated_at = ? WHERE id = ? AND bench = ? AND state IN ('claimed', 'begun')`,
			string(state), jobID, jobID, errText, now, id, bench)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			return nil
		}
		// Already settled as asked: RecordResult marks a begun row done
		// with its job's result.
		var cur, job string
		if err := t.queryRow(`SELECT state, job_id FROM queue WHERE id = ?`, []any{id}, &cur, &job); err == nil &&
			cur == string(state) && (jobID == "" || job == jobID) {
			return nil
		}
		return ErrLeaseLost
	})
	if err != nil {
		return fmt.Errorf("store: finish queue row %d: %w", id, err)
	}
	return nil
}

// RequeueFailed puts the failed rows of batch (every batch when "") back
// in the queue and returns how many.
func (s *Store) RequeueFailed(ctx context.Context, batch string) (int, error) {
	var n int64
	err := s.leaseTx(ctx, func(t *Tx) error {
		q := `UPDATE queue SET state = 'queued', bench = '', lease_until = '', error = '', updated_at = ? WHERE state = 'failed'`
		args := []any{fmtTime(t.s.nowUTC())}
		if batch != "" {
			q += ` AND batch = ?`
			args = append(args, batch)
		}
		res, err := t.exec(q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: requeue failed users: %w", err)
	}
	return int(n), nil
}

// BenchStatus is what a bench reports with its heartbeat.
type BenchStatus struct {
	ID        string          `json:"id"`
	StartedAt time.Time       `json:"startedAt"`
	LastSeen  time.Time       `json:"lastSeen"`
	Info      json.RawMessage `json:"info"`
}

// Heartbeat records that bench is alive (with info: its keys and slots,
// as JSON without secrets) and renews the leases of the rows it holds
// that it has not released, to now+lease. It returns how many it renewed.
func (s *Store) Heartbeat(ctx context.Context, bench string, started time.Time, info any, lease time.Duration) (int, error) {
	raw, err := marshalData(info)
	if err != nil {
		return 0, fmt.Errorf("store: heartbeat: %w", err)
	}
	var n int64
	err = s.leaseTx(ctx, func(t *Tx) error {
		now := t.s.nowUTC()
		res, err := t.exec(`UPDATE queue SET lease_until = ? WHERE bench = ? AND state IN ('claimed', 'begun') AND lease_until <> ''`,
			fmtTime(now.Add(lease)), bench)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO benches (id, started_at, last_seen, info) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, last_seen = excluded.last_seen, info = excluded.info`,
			bench, fmtTime(started), fmtTime(now), string(raw))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: heartbeat: %w", err)
	}
	return int(n), nil
}

// Benches returns every bench that sent a heartbeat, most recent first.
func (s *Store) Benches(ctx context.Context) ([]BenchStatus, error) {
	out, err := queryAll(ctx, s, `SELECT id, started_at, last_seen, info FROM benches ORDER BY last_seen DESC, id`, nil,
		func(sc scanner) (*BenchStatus, error) {
			var (
				b         BenchStatus
				st, ls, i string
			)
			if err := sc.Scan(&b.ID, &st, &ls, &i); err != nil {
				return nil, err
			}
			var err error
			if b.StartedAt, err = parseTime(st); err == nil {
				b.LastSeen, err = parseTime(ls)
			}
			b.Info = json.RawMessage(i)
			return &b, err
		})
	if err != nil {
		return nil, fmt.Errorf("store: benches: %w", err)
	}
	return out, nil
}

// QueueCounts summarise the queue at one moment.
type QueueCounts struct {
	Queued int `json:"queued"`
	// Claimed: leased to a bench, nothing done yet (an expired claim is
	// counted here until another bench claims it).
	Claimed int `json:"claimed"`
	// Begun: begun on a key and held by a live lease; Waiting: begun, the
	// lease ended (the bench died or the key left): waiting for its key.
	Begun   int `json:"begun"`
	Waiting int `json:"waiting"`
	// Done counts the users with nothing left to do: enrolled, and those
	// skipped (enrolled before), which Skipped counts again on their own.
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// QueueCounts counts the queue's rows by state at the store clock's now.
func (s *Store) QueueCounts(ctx context.Context) (QueueCounts, error) {
	var c QueueCounts
	now := fmtTime(s.nowUTC())
	type row struct {
		state string
		live  bool
		n     int
	}
	rows, err := queryAll(ctx, s, `SELECT state, live, COUNT(*) FROM
		(SELECT state, CASE WHEN lease_until >= ? THEN 1 ELSE 0 END AS live FROM queue) x
		GROUP BY state, live`, []any{now}, func(sc scanner) (*row, error) {
		var r row
		var live int
		err := sc.Scan(&r.state, &live, &r.n)
		r.live = live == 1
		return &r, err
	})
	if err != nil {
		return c, fmt.Errorf("store: queue counts: %w", err)
	}
	for _, r := range rows {
		switch QueueState(r.state) {
		case QueueQueued:
			c.Queued += r.n
		case QueueClaimed:
			c.Claimed += r.n
		case QueueBegun:
			if r.live {
				c.Begun += r.n
			} else {
				c.Waiting += r.n
			}
		case QueueDone:
			c.Done += r.n
		case QueueSkipped:
			c.Done += r.n
			c.Skipped += r.n
		case QueueFailed:
			c.Failed += r.n
		}
	}
	return c, nil
}

// Pending reports how many rows bench could still get: queued, or
// claimed by another bench (its lease may yet expire). Begun rows of other
// benches are not counted: they wait for their keys.
func (s *Store) Pending(ctx context.Context, bench string) (int, error) {
	var n int
	err := s.retry(ctx, func() error {
		return s.queryRow(ctx, `SELECT COUNT(*) FROM queue WHERE state = 'queued' OR (state = 'claimed' AND bench <> ?)`, bench).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("store: pending users: %w", err)
	}
	return n, nil
}

// FinishedSince counts the rows enrolled (done, not skipped) since t.
func (s *Store) FinishedSince(ctx context.Context, t time.Time) (int, error) {
	var n int
	err := s.retry(ctx, func() error {
		return s.queryRow(ctx, `SELECT COUNT(*) FROM queue WHERE state = 'done' AND updated_at >= ?`, fmtTime(t)).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("store: enrollments since %s: %w", t.Format(time.RFC3339), err)
	}
	return n, nil
}

// Requeue puts the settled (failed or skipped) row id back in the queue.
func (s *Store) Requeue(ctx context.Context, id int64) error {
	err := s.leaseTx(ctx, func(t *Tx) error {
		_, err := t.exec(`UPDATE queue SET state = 'queued', bench = '', lease_until = '', error = '', updated_at = ?
			WHERE id = ? AND state IN ('failed', 'skipped')`, fmtTime(t.s.nowUTC()), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: requeue row %d: %w", id, err)
	}
	return nil
}

// Unbind puts row id, which bench holds, back in the queue as a fresh
// user: its job was abandoned before anything reached the directory, so
// any key may start the user afresh.
func (s *Store) Unbind(ctx context.Context, id int64, bench, why string) error {
	err := s.leaseTx(ctx, func(t *Tx) error {
		_, err := t.exec(`UPDATE queue SET state = 'queued', lease_until = '', job_id = '', key_serial = '', key_path = '',
			error = ?, updated_at = ? WHERE id = ? AND bench = ? AND state IN ('claimed', 'begun')`, why, fmtTime(t.s.nowUTC()), id, bench)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unbind queue row %d: %w", id, err)
	}
	return nil
}

// ReleaseBench ends every lease bench holds, as a bench does when it
// starts: the rows an earlier process of the same bench held (it died or
// was killed) are its no more. Claimed rows return to the queue; begun
// rows wait for their keys (and this bench takes back those whose key is
// attached here). Two running processes must not share a bench name.
func (s *Store) ReleaseBench(ctx context.Context, bench string) (int, error) {
	var n int64
	err := s.leaseTx(ctx, func(t *Tx) error {
		res, err := t.exec(`UPDATE queue SET state = CASE WHEN state = 'claimed' THEN 'queued' ELSE state END, lease_until = '',
			updated_at = ? WHERE bench = ? AND state IN ('claimed', 'begun')`, fmtTime(t.s.nowUTC()), bench)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: release the claims of bench %s: %w", bench, err)
	}
	return int(n), nil
}
