package blob

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traceOperations gives each S3 operation a client span ("S3.PutObject"),
// a child of the request's or the job attempt's span, with the SDK's
// retries inside it. (The contrib otelaws module is deprecated in favour
// of the SDK's own tracing, whose OpenTelemetry adapter the module proxy
// here does not serve; this is the part of it Conveyor needs.)
func traceOperations(bucket string) func(*middleware.Stack) error {
	tracer := otel.Tracer("github.com/conveyorhq/conveyor/internal/blob")
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("ConveyorTrace",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				op := awsmiddleware.GetOperationName(ctx)
				ctx, span := tracer.Start(ctx, "S3."+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
					attribute.String("rpc.system", "aws-api"), attribute.String("rpc.service", "S3"),
					attribute.String("rpc.method", op), attribute.String("aws.s3.bucket", bucket)))
				defer span.End()
				out, md, err := next.HandleInitialize(ctx, in)
				if err != nil {
					span.RecordError(err)
					span.SetStatus(codes.Error, op+" failed")
				}
				return out, md, err
			}), middleware.After)
	}
}
