package httpapi

import (
	"context"
	"encoding/json"

	"github.com/conveyorhq/conveyor/gen/api"
)

// ListProcessors implements api.StrictServerInterface.
func (s *Server) ListProcessors(ctx context.Context, _ api.ListProcessorsRequestObject) (api.ListProcessorsResponseObject, error) {
	all, err := s.deps.Jobs.ListProcessors(ctx)
	if err != nil {
		return nil, err
	}
	out := api.ProcessorList{Items: make([]api.Processor, 0, len(all))}
	for _, p := range all {
		schema := map[string]any{}
		if err := json.Unmarshal([]byte(p.ParamsSchema()), &schema); err != nil {
			return nil, err
		}
		out.Items = append(out.Items, api.Processor{Name: p.Name(), Description: p.Description(), NeedsFile: p.NeedsFile(), ParamsSchema: schema})
	}
	return api.ListProcessors200JSONResponse{Body: out}, nil
}
