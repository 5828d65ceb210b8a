package provisioning

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxImportRows caps the rows of one CSV import.
const MaxImportRows = 5000

// ImportRow is the outcome of one CSV row (Row counts data rows from 1, the header being
// row 0).
type ImportRow struct {
	Row    int    `json:"row"`
	Email  string `json:"email"`
	UserID string `json:"userId,omitempty"`
	// InvitationID is the invitation sent to the row's user (imports with invitations).
	InvitationID string `json:"invitationId,omitempty"`
	// Status is "ok" (valid; created unless a dry run) or "error".
	Status string `json:"status"`
	Field  string `json:"field,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ImportReport is the outcome of a CSV import. An import is all-or-nothing: Applied is
// true only when every row was valid and the run was not a dry run.
type ImportReport struct {
	DryRun  bool        `json:"dryRun"`
	Applied bool        `json:"applied"`
	Total   int         `json:"total"`
	Valid   int         `json:"valid"`
	Errors  int         `json:"errors"`
	Rows    []ImportRow `json:"rows"`
}

// ErrImportRejected is returned (with the report) when an import had invalid rows.
var ErrImportRejected = errors.New("import rejected: some rows are invalid")

// importColumns maps accepted header names (folded, without spaces, '-' and '_') to fields.
var importColumns = map[string]string{
	"email": "email", "e-mail": "email", "emailaddress": "email", "username": "userName",
	"givenname": "givenName", "firstname": "givenName", "familyname": "familyName", "lastname": "familyName",
	"displayname": "displayName", "name": "displayName", "externalid": "externalId",
	"language": "preferredLanguage", "preferredlanguage": "preferredLanguage", "businessunit": "businessUnit",
	"roles": "roles", "role": "roles", "teams": "teams", "team": "teams", "seat": "seat",
}

func headerKey(h string) string {
	h = FoldKey(strings.TrimPrefix(h, "\ufeff"))
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(h)
}

// parseImport reads the CSV into rows; structural errors (no e-mail column, bad CSV)
// are *ValidationError on "file".
func parseImport(r io.Reader) ([]NewUser, []error, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, Invalid("file", "the file is empty")
	}
	if err != nil {
		return nil, nil, Invalid("file", "not a CSV file: %v", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		if f, ok := importColumns[headerKey(h)]; ok {
			cols[f] = i
		} else {
			return nil, nil, Invalid("file", "unknown column %q (known: email, givenName, familyName, displayName, externalId, language, businessUnit, roles, teams, seat)", h)
		}
	}
	if _, ok := cols["email"]; !ok {
		return nil, nil, Invalid("file", "an email column is required")
	}
	var out []NewUser
	var rowErrs []error
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if len(out) >= MaxImportRows {
			return nil, nil, Invalid("file", "at most %d rows per import", MaxImportRows)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			out = append(out, NewUser{})
			rowErrs = append(rowErrs, Invalid("row", "%v", pe.Err))
			continue
		}
		if err != nil {
			return nil, nil, Invalid("file", "cannot read the file: %v", err)
		}
		get := func(f string) string {
			if i, ok := cols[f]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		list := func(f string) []string {
			var l []string
			for _, x := range strings.FieldsFunc(get(f), func(r rune) bool { return r == ';' || r == '|' }) {
				if x = strings.TrimSpace(x); x != "" {
					l = append(l, x)
				}
			}
			return l
		}
		n := NewUser{UserName: get("userName"), Email: get("email"), GivenName: get("givenName"), FamilyName: get("familyName"),
			DisplayName: get("displayName"), ExternalID: get("externalId"), PreferredLanguage: get("preferredLanguage"),
			BusinessUnit: get("businessUnit"), Roles: list("roles"), Teams: list("teams")}
		var rowErr error
		if s := get("seat"); s != "" {
			b, err := strconv.ParseBool(normBool(s))
			if err != nil {
				rowErr = Invalid("seat", "%q is not yes/no", s)
			}
			n.Seat = b
		}
		out = append(out, n)
		rowErrs = append(rowErrs, rowErr)
	}
	if len(out) == 0 {
		return nil, nil, Invalid("file", "the file has no rows")
	}
	return out, rowErrs, nil
}

func normBool(s string) string {
	switch strings.ToLower(s) {
	case "yes", "y", "x":
		return "true"
	case "no", "n":
		return "false"
	}
	return s
}

// errRollback ends a dry run's transaction without committing it.
var errRollback = errors.New("dry run")

// ImportCSV creates the users of a CSV file (columns email, givenName, familyName,
// displayName, externalId, language, businessUnit, roles and teams separated by ';', seat)
// with source csv. Every row is checked against the database inside one transaction, as
// it would be applied; with dryRun, or when any row fails, the transaction is rolled back
// and the report tells each row's error (ErrImportRejected). Otherwise all rows are
// created at once.
func (e *Engine) ImportCSV(ctx context.Context, actor Actor, tenantID string, r io.Reader, dryRun bool) (*ImportReport, error) {
	return e.importCSV(ctx, actor, tenantID, r, dryRun, nil)
}

// importHook runs after a row's user is created, in the import's transaction. A
// validation, conflict or seat error it returns fails the row; any other error the import.
type importHook func(ctx context.Context, tx Tx, u *User, row *ImportRow) error

func (e *Engine) importCSV(ctx context.Context, actor Actor, tenantID string, r io.Reader, dryRun bool, after importHook) (*ImportReport, error) {
	rows, rowErrs, err := parseImport(r)
	if err != nil {
		return nil, err
	}
	rep := &ImportReport{DryRun: dryRun, Total: len(rows), Rows: make([]ImportRow, len(rows))}
	seen := map[string]int{}
	err = e.Store.InTx(ctx, func(tx Tx) error {
		pw, rs, err := e.powerAndRoles(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		for i, n := range rows {
			ir := &rep.Rows[i]
			ir.Row, ir.Email, ir.Status = i+1, n.Email, "ok"
			fail := func(err error) error {
				ir.Status, ir.Error = "error", err.Error()
				var ve *ValidationError
				var ce *ConflictError
				var fe *ForbiddenError
				var se *SeatLimitError
				switch {
				case errors.As(err, &ve):
					ir.Field, ir.Error = ve.Field, ve.Reason
				case errors.As(err, &ce):
					ir.Field, ir.Error = ce.Field, fmt.Sprintf("a user with this %s already exists", ce.Field)
				case errors.As(err, &fe):
					ir.Error = fe.Reason
				case errors.As(err, &se):
					ir.Field, ir.Error = "seat", fmt.Sprintf("no seat left: %d of %d free", se.Free, se.Limit)
				default:
					return err
				}
				rep.Errors++
				return nil
			}
			if rowErrs[i] != nil {
				if err := fail(rowErrs[i]); err != nil {
					return err
				}
				continue
			}
			key := FoldKey(n.Email)
			if prev, dup := seen[key]; dup {
				if err := fail(Invalid("email", "duplicates row %d", prev)); err != nil {
					return err
				}
				continue
			}
			seen[key] = i + 1
			// A savepoint per row would let later rows be checked after a failed one on
			// PostgreSQL, whose transaction is aborted by a failed statement; instead the
			// checks that can fail in SQL (uniqueness) are made first by reading.
			if n.Email != "" {
				var f Filter = Or{
					Compare{Field: "userName", Op: OpEq, Value: n.Email},
					Any{Collection: "emails", Where: Compare{Field: "value", Op: OpEq, Value: n.Email}},
				}
				if n.UserName != "" {
					f = Or{f, Compare{Field: "userName", Op: OpEq, Value: n.UserName}}
				}
				if found, err := tx.ListUsers(ctx, tenantID, UserQuery{Filter: f}); err != nil {
					return err
				} else if found.Total > 0 {
					if err := fail(&ConflictError{Field: "email", Value: n.Email}); err != nil {
						return err
					}
					continue
				}
			}
			u, err := e.createUserTx(ctx, tx, actor, pw, rs, tenantID, n, SourceCSV, "")
			if err != nil {
				if err := fail(err); err != nil {
					return err
				}
				continue
			}
			ir.UserID = u.ID
			if after != nil {
				if err := after(ctx, tx, u, ir); err != nil {
					if err := fail(err); err != nil {
						return err
					}
					continue
				}
			}
		}
		rep.Valid = rep.Total - rep.Errors
		if rep.Errors > 0 {
			return ErrImportRejected
		}
		if dryRun {
			return errRollback
		}
		return nil
	})
	switch {
	case errors.Is(err, errRollback):
		for i := range rep.Rows {
			rep.Rows[i].UserID, rep.Rows[i].InvitationID = "", ""
		}
		return rep, nil
	case errors.Is(err, ErrImportRejected):
		for i := range rep.Rows {
			rep.Rows[i].UserID, rep.Rows[i].InvitationID = "", ""
		}
		return rep, err
	case err != nil:
		return nil, err
	}
	rep.Applied = true
	return rep, nil
}

// BulkAction names a change applied to many users at once.
type BulkAction string

// The bulk actions.
const (
	BulkDeactivate  BulkAction = "deactivate"
	BulkReactivate  BulkAction = "reactivate"
	BulkAssignSeat  BulkAction = "assign_seat"
	BulkSetRoles    BulkAction = "set_roles"
	BulkAddRoles    BulkAction = "add_roles"
	BulkRemoveRoles BulkAction = "remove_roles"
	BulkAddTeams    BulkAction = "add_teams"
	BulkRemoveTeams BulkAction = "remove_teams"
)

// BulkChange is one bulk operation: the action, the users, and the roles or teams it uses.
type BulkChange struct {
	Action  BulkAction
	UserIDs []string
	Roles   []string
	Teams   []string
	// Seat is the seat choice of a reactivation (ReactivateOptions.Seat).
	Seat *bool
}

// Bulk applies one change to many users in one transaction: all of them or, on the first
// refusal, none (the error names the user by its index, "userIds[3]").
func (e *Engine) Bulk(ctx context.Context, actor Actor, tenantID string, ch BulkChange) (int, error) {
	ids, err := checkIDs("userIds", ch.UserIDs)
	if err != nil {
		return 0, err
	}
	switch ch.Action {
	case BulkSetRoles, BulkAddRoles, BulkRemoveRoles:
		if len(ch.Roles) == 0 && ch.Action != BulkSetRoles {
			return 0, Invalid("roles", "at least one role is required")
		}
	case BulkAddTeams, BulkRemoveTeams:
		if len(ch.Teams) == 0 {
			return 0, Invalid("teams", "at least one team is required")
		}
	case BulkDeactivate, BulkReactivate, BulkAssignSeat:
	default:
		return 0, Invalid("action", "unknown action %q", ch.Action)
	}
	err = e.Store.InTx(ctx, func(tx Tx) error {
		pw, err := e.power(ctx, tx, tenantID, actor)
		if err != nil {
			return err
		}
		if ch.Action == BulkAssignSeat {
			_, err := e.assignSeatsTx(ctx, tx, actor, tenantID, ids, ch.Roles)
			return err
		}
		if _, err := lockAll(ctx, tx, tenantID, "userIds", ids); err != nil {
			return err
		}
		rs, err := loadRoles(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		for i, id := range ids {
			var err error
			switch ch.Action {
			case BulkDeactivate:
				err = e.deactivateTx(ctx, tx, actor, pw, tenantID, id)
			case BulkReactivate:
				err = e.reactivateTx(ctx, tx, actor, pw, tenantID, id, ReactivateOptions{Seat: ch.Seat})
			case BulkSetRoles:
				err = e.changeRolesTx(ctx, tx, actor, pw, rs, tenantID, id, "roles", RoleChange{Set: append([]string{}, ch.Roles...)})
			case BulkAddRoles:
				err = e.changeRolesTx(ctx, tx, actor, pw, rs, tenantID, id, "roles", RoleChange{Add: ch.Roles})
			case BulkRemoveRoles:
				err = e.changeRolesTx(ctx, tx, actor, pw, rs, tenantID, id, "roles", RoleChange{Remove: ch.Roles})
			case BulkAddTeams:
				err = e.changeTeamsTx(ctx, tx, actor, tenantID, id, "teams", nil, ch.Teams, nil)
			case BulkRemoveTeams:
				err = e.changeTeamsTx(ctx, tx, actor, tenantID, id, "teams", nil, nil, ch.Teams)
			}
			if err != nil {
				return atUser(err, fmt.Sprintf("userIds[%d]", i))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}

// atUser says which user of a batch a refusal is about.
func atUser(err error, field string) error {
	var ve *ValidationError
	var re *RuleError
	var fe *ForbiddenError
	switch {
	case errors.As(err, &ve):
		return &ValidationError{Field: field, Reason: ve.Error()}
	case errors.As(err, &re):
		return &RuleError{Field: field, Reason: re.Reason}
	case errors.As(err, &fe):
		return &ForbiddenError{Reason: field + ": " + fe.Reason}
	}
	return err
}
