package onboard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/userlist"
)

// ErrOutcomeUnknown is matched by a CreateTAP error after which a pass may
// or may not exist (a lost answer). Its code can never be read back.
var ErrOutcomeUnknown = errors.New("the pass may or may not have been created")

// Status is the outcome of one row of a batch.
type Status string

// Row outcomes.
const (
	StatusCreated  Status = "created"
	StatusReplaced Status = "replaced"
	StatusSkipped  Status = "skipped"
	StatusFailed   Status = "failed"
)

// RowResult is one user's outcome in a batch. It never holds the code.
type RowResult struct {
	Line   int       `json:"line"`
	UPN    string    `json:"upn"`
	Status Status    `json:"status"`
	Detail string    `json:"detail,omitempty"`
	Start  time.Time `json:"start,omitzero"`
	Expiry time.Time `json:"expiry,omitzero"`
	Once   bool      `json:"isUsableOnce"`
	File   string    `json:"slip,omitempty"`
	Err    error     `json:"-"`
}

// Sealer turns a rendered slip into what is written (age encryption), or
// nil for plain files.
type Sealer func(plain []byte) ([]byte, error)

// Batch issues passes for a user list, one slip file per user in OutDir.
// Row failures never stop the batch. Re-running it skips users whose pass
// is still valid and whose slip is in OutDir; a pass created by a run that
// died before writing its slip (a pending marker in OutDir) is replaced,
// since its code cannot be read back.
type Batch struct {
	Issuer  *Issuer
	Request Request
	OutDir  string
	Format  string // text or html
	Seal    Sealer
	// Record is called after each issued pass's slip is written (audit).
	Record func(ctx context.Context, is *Issued, file string)
	// Progress is called with each row's outcome as it is known.
	Progress func(RowResult)
}

// SlipName is the slip file name (without extension) for a UPN: the UPN
// with every character outside [A-Za-z0-9._@-] replaced by '_'.
func SlipName(upn string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r) {
			return r
		}
		return '_'
	}, strings.ToLower(upn))
}

// SlipExt is the slip file extension for a format, with ".age" when sealed.
func SlipExt(format string, sealed bool) string {
	ext := ".txt"
	if format == "html" {
		ext = ".html"
	}
	if sealed {
		ext += ".age"
	}
	return ext
}

const pendingDir = ".pending"

// Run processes the rows in order and returns one result per row.
func (b *Batch) Run(ctx context.Context, rows []userlist.Row) ([]RowResult, error) {
	if _, err := b.Issuer.Policy(ctx); err != nil {
		return nil, err
	}
	if err := Check(b.Issuer.policy, b.Request, b.Issuer.now()); err != nil {
		return nil, err
	}
	if err := fileguard.MkdirAll(filepath.Join(b.OutDir, pendingDir)); err != nil {
		return nil, fmt.Errorf("slip directory: %w", err)
	}
	out := make([]RowResult, 0, len(rows))
	for _, row := range rows {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		res := b.row(ctx, row)
		if b.Progress != nil {
			b.Progress(res)
		}
		out = append(out, res)
		if errors.Is(res.Err, context.Canceled) {
			return out, res.Err
		}
	}
	return out, nil
}

// slipOf returns the slip in dir of pass p for the user whose slip name
// is name, in any format, or "": a slip file written after p was created
// (allowing for clock skew).
func slipOf(dir, name string, p *Pass) string {
	for _, format := range []string{"text", "html"} {
		for _, sealed := range []bool{false, true} {
			file := filepath.Join(dir, name+SlipExt(format, sealed))
			if fi, err := os.Stat(file); err == nil && !fi.ModTime().Before(p.Created.Add(-2*time.Minute)) {
				return file
			}
		}
	}
	return ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (b *Batch) row(ctx context.Context, row userlist.Row) RowResult {
	res := RowResult{Line: row.Line, UPN: row.UPN}
	fail := func(err error) RowResult {
		res.Status, res.Err = StatusFailed, err
		return res
	}
	name := SlipName(row.UPN)
	file := filepath.Join(b.OutDir, name+SlipExt(b.Format, b.Seal != nil))
	pending := filepath.Join(b.OutDir, pendingDir, name)

	req := b.Request
	req.Replace = true // decided here, per row
	u, cur, err := b.Issuer.Preflight(ctx, row.UPN, req)
	if err != nil {
		return fail(err)
	}
	res.UPN = u.UPN
	now := b.Issuer.now()
	replacing := false
	if cur != nil && cur.Live(now) {
		ours := exists(pending)
		switch {
		case ours:
			replacing = true
			res.Detail = "the pass of an interrupted run was never delivered: replaced"
		case b.Request.Replace:
			replacing = true
		case slipOf(b.OutDir, name, cur) != "":
			res.Status, res.File = StatusSkipped, slipOf(b.OutDir, name, cur)
			res.Start, res.Expiry, res.Once = cur.Start, cur.Expiry(), cur.Once
			res.Detail = "a valid pass was issued before; its slip is " + res.File
			return res
		default:
			res.Status = StatusSkipped
			res.Start, res.Expiry, res.Once = cur.Start, cur.Expiry(), cur.Once
			res.Detail = "has a valid pass issued elsewhere (no slip here): --replace to issue a new one"
			return res
		}
	}
	// The marker says "a pass is being created for this user": if the run
	// dies before the slip is written, the next run knows the live pass is
	// its own, undeliverable one.
	if err := escrow.WritePrivateFile(pending, []byte(now.UTC().Format(time.RFC3339)+"\n"), true); err != nil {
		return fail(fmt.Errorf("pending marker: %w", err))
	}
	pass, err := b.Issuer.Dir.CreateTAP(ctx, u.ID, CreateRequest{Start: b.Request.Start, Lifetime: b.Request.Lifetime, Once: b.Request.Once})
	if err != nil {
		if !errors.Is(err, ErrOutcomeUnknown) {
			os.Remove(pending)
		}
		return fail(err)
	}
	is := &Issued{User: u, Pass: pass}
	defer pass.Wipe()
	if len(pass.Code) == 0 {
		return fail(fmt.Errorf("create the pass for %s: the answer carried no code", u.UPN))
	}
	if replacing {
		is.Replaced = cur
	}
	if _, err := (Delivery{Format: b.Format, Seal: b.Seal, File: file, Replace: true}).Deliver(is, now); err != nil {
		// The pending marker stays: the next run replaces this pass.
		var we *WriteError
		if errors.As(err, &we) {
			err = we.Err
		}
		return fail(fmt.Errorf("write the slip %s: %w", file, err))
	}
	if err := os.Remove(pending); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if b.Record != nil {
		b.Record(ctx, is, file)
	}
	res.Status, res.File = StatusCreated, file
	if replacing {
		res.Status = StatusReplaced
	}
	res.Start, res.Expiry, res.Once = pass.Start, pass.Expiry(), pass.Once
	if !pass.Usable && pass.Reason == "DisabledByPolicy" {
		res.Detail = strings.TrimPrefix(res.Detail+"; ", "; ") + "the user is outside the TAP policy's targets: the pass cannot be used until they are included"
	}
	return res
}
