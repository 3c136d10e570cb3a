package httpapi

import (
	"context"
	"encoding/json"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func apiKeyOut(k domain.APIKey) api.ApiKey {
	return api.ApiKey{Id: k.ID, TeamId: k.TeamID, Name: k.Name, Role: api.ApiKeyRole(k.Role), Prefix: k.Prefix,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// CreateApiKey implements api.StrictServerInterface.
func (s *Server) CreateApiKey(ctx context.Context, req api.CreateApiKeyRequestObject) (api.CreateApiKeyResponseObject, error) {
	k, secret, err := s.deps.Teams.CreateAPIKey(ctx, req.TeamId, req.Body.Name, domain.TeamRole(req.Body.Role))
	if err != nil {
		return nil, err
	}
	o := apiKeyOut(k)
	return api.CreateApiKey201JSONResponse{Body: api.ApiKeyWithSecret{Id: o.Id, TeamId: o.TeamId, Name: o.Name,
		Role: api.ApiKeyWithSecretRole(o.Role), Prefix: o.Prefix, CreatedAt: o.CreatedAt, Secret: secret}}, nil
}

// ListApiKeys implements api.StrictServerInterface.
func (s *Server) ListApiKeys(ctx context.Context, req api.ListApiKeysRequestObject) (api.ListApiKeysResponseObject, error) {
	scope := "ListApiKeys:" + req.TeamId.String()
	pr, err := s.page(scope, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Teams.APIKeys(ctx, req.TeamId, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, apiKeyOut)
	return api.ListApiKeys200JSONResponse{Body: api.ApiKeyList{Items: items, NextCursor: next}}, nil
}

// GetApiKey implements api.StrictServerInterface.
func (s *Server) GetApiKey(ctx context.Context, req api.GetApiKeyRequestObject) (api.GetApiKeyResponseObject, error) {
	k, err := s.deps.Teams.APIKey(ctx, req.TeamId, req.KeyId)
	if err != nil {
		return nil, err
	}
	etag := k.ETag()
	if domain.NoneMatch(req.Params.IfNoneMatch, etag) {
		return api.GetApiKey304Response{Headers: api.NotModifiedResponseHeaders{ETag: &etag}}, nil
	}
	return api.GetApiKey200JSONResponse{Body: apiKeyOut(k), Headers: api.GetApiKey200ResponseHeaders{ETag: &etag}}, nil
}

// RevokeApiKey implements api.StrictServerInterface.
func (s *Server) RevokeApiKey(ctx context.Context, req api.RevokeApiKeyRequestObject) (api.RevokeApiKeyResponseObject, error) {
	if err := s.deps.Teams.RevokeAPIKey(ctx, req.TeamId, req.KeyId, req.Params.IfMatch); err != nil {
		return nil, err
	}
	return api.RevokeApiKey204Response{}, nil
}

func auditOut(e domain.AuditEvent) api.AuditEvent {
	out := api.AuditEvent{Id: e.ID, TeamId: e.TeamID, Action: e.Action, TargetType: e.TargetType, TargetId: e.TargetID,
		Actor:     api.AuditActor{Type: api.AuditActorType(e.ActorType), Id: e.ActorID, Name: e.ActorName},
		CreatedAt: e.CreatedAt, Details: map[string]any{}}
	_ = json.Unmarshal(e.Details, &out.Details)
	if e.RequestID != "" {
		out.RequestId = &e.RequestID
	}
	return out
}

// ListAuditEvents implements api.StrictServerInterface.
func (s *Server) ListAuditEvents(ctx context.Context, req api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	p := req.Params
	f := auditFilter(p.Action, p.Actor, p.Since, p.Until)
	scope := auditScope("ListAuditEvents:"+req.TeamId.String(), f)
	pr, err := s.page(scope, p.Limit, p.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.deps.Teams.AuditEvents(ctx, req.TeamId, f, pr)
	if err != nil {
		return nil, err
	}
	items, next := pageOut(s, scope, page, auditOut)
	return api.ListAuditEvents200JSONResponse{Body: api.AuditEventList{Items: items, NextCursor: next}}, nil
}
