// Package authz is the role table of the API: the requirement each
// operation declares in the API description (x-required-role), read once
// at start-up, and the Policy that the domain services check every call
// against. The HTTP layer may check the same table early; a service never
// trusts that it did. An operation the table does not know is refused.
package authz

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Table maps an operationId to the requirement the operation declares.
type Table map[string]domain.Requirement

// TeamParam is the path parameter that names the team a team operation
// acts in.
const TeamParam = "team_id"

// OperationRequirement reads the requirement op (at path) declares. It
// fails when op has no operationId, declares no x-required-role or an
// unknown one, or requires a team role (team_*) without a {team_id} path
// parameter to check it against.
func OperationRequirement(path string, op *openapi3.Operation) (domain.Requirement, error) {
	if op.OperationID == "" {
		return "", errors.New("has no operationId")
	}
	raw, ok := op.Extensions["x-required-role"].(string)
	if !ok {
		return "", fmt.Errorf("%s declares no x-required-role", op.OperationID)
	}
	need, err := domain.ParseRequirement(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op.OperationID, err)
	}
	if _, team := need.TeamRole(); team && !strings.Contains(path, "{"+TeamParam+"}") {
		return "", fmt.Errorf("%s requires %s but its path has no {%s} to check it against", op.OperationID, need, TeamParam)
	}
	return need, nil
}

// FromSpec reads the role table from the API description. Every operation
// must pass OperationRequirement, and operationIds must be unique; the
// error names each operation that does not.
func FromSpec(doc *openapi3.T) (Table, error) {
	if doc == nil || doc.Paths == nil {
		return nil, errors.New("authz: the API description has no paths")
	}
	t := Table{}
	var problems []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			need, err := OperationRequirement(path, op)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: %v", method, path, err))
				continue
			}
			if _, dup := t[op.OperationID]; dup {
				problems = append(problems, fmt.Sprintf("%s %s: operationId %s is used twice", method, path, op.OperationID))
				continue
			}
			t[op.OperationID] = need
			fields, err := fieldRequirements(op)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: %v", method, path, err))
			}
			for k, v := range fields {
				t[k] = v
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("authz: the role table is incomplete: %s", strings.Join(problems, "; "))
	}
	return t, nil
}

// FieldKey names, in the role table, a field of an operation's JSON
// request body that declares its own x-required-role, stricter than the
// operation's ("updateTeam.quota"): a service checks it, as an operation,
// when a request sets the field.
func FieldKey(op, field string) string { return op + "." + field }

// fieldRequirements reads the fields of op's JSON request body that
// declare an x-required-role (on the property or the schema it refers to).
func fieldRequirements(op *openapi3.Operation) (Table, error) {
	rb := op.RequestBody
	if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil {
		return nil, nil
	}
	s := rb.Value.Content.Get("application/json").Schema
	if s == nil || s.Value == nil {
		return nil, nil
	}
	t := Table{}
	for name, p := range s.Value.Properties {
		if p == nil || p.Value == nil {
			continue
		}
		raw, ok := p.Value.Extensions["x-required-role"].(string)
		if !ok {
			continue
		}
		need, err := domain.ParseRequirement(raw)
		if err != nil {
			return nil, fmt.Errorf("%s field %s: %w", op.OperationID, name, err)
		}
		t[FieldKey(op.OperationID, name)] = need
	}
	return t, nil
}

// FromYAML reads the role table from an API description as written
// (openapi.V1YAML), whose operationIds the services name. (The generated
// server's embedded copy has them renamed to Go identifiers.)
func FromYAML(spec []byte) (Table, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("authz: read the API description: %w", err)
	}
	return FromSpec(doc)
}

// Access decides whether a principal meets a requirement, for teamID (nil
// outside a team): auth.Authorizer, which looks up memberships and
// whether the team is live.
type Access interface {
	Authorize(ctx context.Context, p *domain.Principal, need domain.Requirement, teamID *uuid.UUID) error
}

// Policy checks callers against the role table. The zero value and a nil
// *Policy refuse everything.
type Policy struct {
	table  Table
	access Access
}

// New returns the policy of table, deciding with access.
func New(table Table, access Access) *Policy {
	t := make(Table, len(table))
	for op, need := range table {
		t[op] = need
	}
	return &Policy{table: t, access: access}
}

// Requirement returns what op requires, and false for an operation the
// table does not know.
func (p *Policy) Requirement(op string) (domain.Requirement, bool) {
	if p == nil {
		return "", false
	}
	need, ok := p.table[op]
	return need, ok
}

// Check refuses the principal in ctx unless it meets what operation op
// requires, in teamID (the team the call acts in; nil outside a team).
// It returns the refusal of Access: unauthenticated without a principal,
// not found for a team the principal is outside of (existence is not
// revealed), forbidden for a role too low. An operation the table does not
// know, and a team operation called without its team, are forbidden.
func (p *Policy) Check(ctx context.Context, op string, teamID *uuid.UUID) error {
	need, ok := p.Requirement(op)
	if !ok || p.access == nil {
		return &domain.Error{Code: domain.CodeForbidden, Message: "This operation is not allowed.",
			Err: fmt.Errorf("authz: %q is not in the role table", op)}
	}
	if _, team := need.TeamRole(); team && teamID == nil {
		return &domain.Error{Code: domain.CodeForbidden, Message: "This operation is not allowed.",
			Err: fmt.Errorf("authz: %s requires %s but was called without a team", op, need)}
	}
	return p.access.Authorize(ctx, domain.PrincipalFrom(ctx), need, teamID)
}
