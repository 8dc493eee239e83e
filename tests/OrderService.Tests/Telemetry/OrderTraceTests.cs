using System.Diagnostics;
using Pipeline.OrderService.Telemetry;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>The replicas and the storefront of <see cref="TracedReplica"/>: one run, read by the telemetry tests.</summary>
[CollectionDefinition(Name)]
public sealed class TracedReplicaCollection : ICollectionFixture<TracedReplica>
{
    public const string Name = "traced replica";
}

/// <summary>
/// One order's trace, from the exported spans: the storefront's publish, the intake batch linked to it, the forward as the
/// batch's child, the leader's receive of the forward, the commit batch linked to that delivery, and the decision as a child
/// of the order's publish (linked to its commit batch), whose event the storefront receives in the order's trace; and the
/// same for a decision intake takes itself.
/// </summary>
[Collection(TracedReplicaCollection.Name)]
public sealed class OrderTraceTests(TracedReplica run, ITestOutputHelper output)
{
    [Fact]
    public Task One_orders_trace_links_its_intake_its_forward_the_leaders_commit_batch_and_its_decision_event() =>
        UntilCompleteAsync(spans => AssertTrace(spans, run.Checkout.TraceId));

    [Fact]
    public Task An_order_refused_at_intake_gets_its_decision_in_its_own_trace() => UntilCompleteAsync(spans =>
    {
        var trace = run.InvalidCheckout.TraceId;
        var submitted = Single(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Producer && s.ParentSpanId == run.InvalidCheckout.SpanId,
            "the storefront's publish of the invalid order");
        var intake = Single(spans, s => s.DisplayName == "intake batch" && s.Links.Any(l => l.Context.SpanId == submitted.SpanId), "the intake batch linked to it");
        var decided = Single(spans, s => s.DisplayName == "order decided" && Tag(s, "pipeline.order_id") == run.InvalidOrderId, "its decision span");
        Assert.Equal(trace, decided.TraceId);
        Assert.Equal(submitted.SpanId, decided.ParentSpanId);
        Assert.Equal("rejected", Tag(decided, "pipeline.decision"));
        Assert.Equal("Invalid", Tag(decided, "pipeline.rejection_reason"));
        Assert.Contains(decided.Links, l => l.Context.SpanId == intake.SpanId);
        var published = Single(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Producer && s.ParentSpanId == decided.SpanId,
            "the publish of OrderRejected inside the decision span");
        Assert.Contains(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Consumer && s.TraceId == trace && s.ParentSpanId == published.SpanId);
    });

    /// <summary>A span is exported when it ends, and the storefront may receive a decision before the spans around its
    /// publish have ended: the spans are read again until <paramref name="assert"/> passes or the wait is over, then its
    /// last failure is reported with the spans.</summary>
    private async Task UntilCompleteAsync(Action<IReadOnlyList<Activity>> assert)
    {
        var deadline = DateTime.UtcNow + TracedReplica.Wait;
        while (true)
        {
            var spans = run.Spans.Snapshot();
            try
            {
                assert(spans);
                return;
            }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            catch (Xunit.Sdk.XunitException)
            {
                foreach (var s in spans.Where(s => s.Source.Name != "Npgsql").OrderBy(s => s.StartTimeUtc))
                {
                    output.WriteLine($"{s.StartTimeUtc:HH:mm:ss.fff} {s.Source.Name} {s.Kind} '{s.DisplayName}' {s.TraceId}/{s.SpanId} parent {s.ParentSpanId} links [{string.Join(", ", s.Links.Select(l => $"{l.Context.TraceId}/{l.Context.SpanId}"))}] {string.Join(" ", s.TagObjects.Select(t => $"{t.Key}={t.Value}"))}");
                }

                throw;
            }
        }
    }

    private void AssertTrace(IReadOnlyList<Activity> spans, ActivityTraceId trace)
    {
        Assert.Contains(spans, s => s.TraceId == trace && s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Consumer
            && Tag(s, "messaging.destination.name")?.StartsWith("storefront-events", StringComparison.Ordinal) == true);
        var submitted = Single(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Producer && s.ParentSpanId == run.Checkout.SpanId,
            "the storefront's publish of OrderSubmitted, a child of its checkout span");

        var intake = Single(spans, s => s.DisplayName == "intake batch" && s.Links.Any(l => l.Context.SpanId == submitted.SpanId && l.Context.TraceId == trace
            && l.Tags?.Any(t => t.Key == "pipeline.order_id" && (string?)t.Value == run.OrderId) == true),
            "the intake batch, linked to the order's publish and naming the order");
        Assert.Equal(default, intake.ParentSpanId); // a batch belongs to no single order's trace
        Assert.Contains(run.OrderId, (string[])intake.GetTagItem("pipeline.order_ids")!);

        var forward = Single(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Producer && s.ParentSpanId == intake.SpanId
            && Tag(s, "messaging.destination.name") == "inventory-commit", "the forward to inventory-commit, a child of the intake batch");
        Assert.Equal(intake.TraceId, forward.TraceId);

        var received = Single(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Consumer && s.ParentSpanId == forward.SpanId,
            "the leader's receive of the forward");
        var delivery = new HashSet<ActivitySpanId>(spans.Where(s => s.TraceId == intake.TraceId && (s.SpanId == received.SpanId || s.ParentSpanId == received.SpanId)).Select(s => s.SpanId));

        var commit = Single(spans, s => s.DisplayName == "commit batch" && s.Links.Any(l => l.Context.TraceId == intake.TraceId && delivery.Contains(l.Context.SpanId)),
            "the commit batch, linked to the leader's delivery of the forward");
        Assert.Equal(default, commit.ParentSpanId);
        Assert.Contains(run.OrderId, (string[])commit.GetTagItem("pipeline.order_ids")!);
        Assert.Contains(spans, s => s.Source.Name == "Npgsql" && s.TraceId == commit.TraceId && s.ParentSpanId == commit.SpanId);

        var decided = Single(spans, s => s.DisplayName == "order decided" && Tag(s, "pipeline.order_id") == run.OrderId, "the order's decision span");
        Assert.Equal(trace, decided.TraceId);
        Assert.Equal(submitted.SpanId, decided.ParentSpanId);
        Assert.Equal("confirmed", Tag(decided, "pipeline.decision"));
        Assert.Contains(decided.Links, l => l.Context.SpanId == commit.SpanId && l.Context.TraceId == commit.TraceId);

        var published = Single(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Producer && s.ParentSpanId == decided.SpanId,
            "the publish of the decision event, inside the decision span");
        Assert.Equal(trace, published.TraceId);
        Assert.Contains(spans, s => s.Source.Name == "MassTransit" && s.Kind == ActivityKind.Consumer && s.TraceId == trace && s.ParentSpanId == published.SpanId);
    }

    private static Activity Single(IEnumerable<Activity> spans, Func<Activity, bool> match, string what)
    {
        var found = spans.Where(match).ToList();
        Assert.True(found.Count == 1, $"expected one span: {what}; found {found.Count}");
        return found[0];
    }

    private static string? Tag(Activity span, string key) => span.GetTagItem(key) as string;
}
