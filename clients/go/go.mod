module github.com/conveyorhq/conveyor/clients/go

go 1.26

require (
	github.com/google/uuid v1.6.0
	github.com/oapi-codegen/nullable v1.1.0
	github.com/oapi-codegen/runtime v1.8.0
	github.com/standard-webhooks/standard-webhooks/libraries v1.3.0
)

require github.com/apapsch/go-jsonmerge/v2 v2.0.0 // indirect
