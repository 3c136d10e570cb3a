package conveyor

import (
	"context"
	"iter"

	"github.com/google/uuid"
)

// paginate walks a list: fetch returns one page's items and the next
// cursor; iteration stops after the last page, at the first error (yielded
// once), or when the caller stops.
func paginate[T any](fetch func(cursor *Cursor) ([]T, *string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var cursor *Cursor
		for {
			items, next, err := fetch(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == nil {
				return
			}
			c := Cursor(*next)
			cursor = &c
		}
	}
}

// Teams iterates over the teams the caller sees, across pages.
func (c *Client) Teams(ctx context.Context) iter.Seq2[Team, error] {
	return paginate(func(cursor *Cursor) ([]Team, *string, error) {
		r, err := c.ListTeamsWithResponse(ctx, &ListTeamsParams{Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		l, err := result(r.HTTPResponse, r.Body, r.JSON200, nil)
		if err != nil {
			return nil, nil, err
		}
		return l.Items, l.NextCursor, nil
	})
}

// Files iterates over a team's files (newest first), across pages; params
// may filter them (its Cursor is ignored).
func (c *Client) Files(ctx context.Context, teamID uuid.UUID, params *ListFilesParams) iter.Seq2[File, error] {
	var p ListFilesParams
	if params != nil {
		p = *params
	}
	return paginate(func(cursor *Cursor) ([]File, *string, error) {
		p.Cursor = cursor
		r, err := c.ListFilesWithResponse(ctx, teamID, &p)
		if err != nil {
			return nil, nil, err
		}
		l, err := result(r.HTTPResponse, r.Body, r.JSON200, nil)
		if err != nil {
			return nil, nil, err
		}
		return l.Items, l.NextCursor, nil
	})
}

// Jobs iterates over a team's jobs (newest first), across pages.
func (c *Client) Jobs(ctx context.Context, teamID uuid.UUID) iter.Seq2[Job, error] {
	return paginate(func(cursor *Cursor) ([]Job, *string, error) {
		r, err := c.ListJobsWithResponse(ctx, teamID, &ListJobsParams{Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		l, err := result(r.HTTPResponse, r.Body, r.JSON200, nil)
		if err != nil {
			return nil, nil, err
		}
		return l.Items, l.NextCursor, nil
	})
}
