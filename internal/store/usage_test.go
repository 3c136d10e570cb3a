package store_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestTeamListUsageIsOneQuery: a page of teams gets its usage from one
// aggregate statement, whatever the page size (no query per team).
func TestTeamListUsageIsOneQuery(t *testing.T) {
	env := shared.Env(t)
	admin := newCaller(t, env.URL, "usage-lister", true)
	for i := range 7 {
		admin.createTeam(fmt.Sprintf("usage-%d", i))
	}
	catchUp(t)
	total := func(c counts) int { return c["primary"] + c["replica1"] + c["replica2"] }
	before, beforeOne := snapshot(t, "-- name: TeamUsage "), snapshot(t, "-- name: GetTeamWithUsage ")
	code, body, _, err := admin.do("GET", "/teams?limit=7", "")
	if err != nil || code != 200 {
		t.Fatalf("list: %d %s %v", code, body, err)
	}
	var page struct {
		Items []struct {
			Usage *struct{ StoredBytes *int64 } `json:"usage"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Items) != 7 {
		t.Fatalf("page: %s %v", body, err)
	}
	for i, it := range page.Items {
		if it.Usage == nil {
			t.Fatalf("item %d has no usage: %s", i, body)
		}
	}
	if n := total(before.delta(snapshot(t, "-- name: TeamUsage "))); n != 1 {
		t.Fatalf("a page of 7 teams ran the usage statement %d times; want once", n)
	}
	if n := total(beforeOne.delta(snapshot(t, "-- name: GetTeamWithUsage "))); n != 0 {
		t.Fatalf("the list read usage team by team (%d statements)", n)
	}
}
