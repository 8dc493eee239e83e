using System.Diagnostics;
using System.Globalization;
using MassTransit;
using MassTransit.Logging;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;

namespace Pipeline.OrderService.Telemetry;

/// <summary>
/// The service's spans on the activity source <c>Pipeline</c>: an intake batch, a commit batch and each order's decision.
/// Orders travel in batches, so one span serves many orders' traces: the intake batch links to each order's submission, the
/// forward is its child, the commit batch links to each command it serves, and each order's decision is a child of the
/// order's submission again (linked to its commit batch), so the decision event continues the storefront's trace.
/// </summary>
/// <remarks>The submission contexts of a forward's orders ride with it in the <see cref="OrderContextsHeader"/> header, one
/// W3C traceparent per order in the order of <see cref="CommitInventoryBatch.Orders"/>. Attributes hold order ids (in
/// bounded printable form, at most <see cref="MaxOrderIds"/> per span), tokens and counts: no message content, no setting.</remarks>
public static class PipelineTracing
{
    public const string SourceName = "Pipeline";

    /// <summary>The submission contexts of a forward's orders, comma-separated traceparents (empty for an order without one).</summary>
    public const string OrderContextsHeader = "Pipeline-Order-Trace-Contexts";

    /// <summary>Order ids on a batch span: enough to find a batch by one of its orders at the default batch sizes (100).</summary>
    public const int MaxOrderIds = 100;

    private static readonly ActivitySource Source = new(SourceName, typeof(PipelineTracing).Assembly.GetName().Version?.ToString());

    /// <summary>An intake batch's span: a trace of its own, linked to each message's submission (the link names the order).</summary>
    public static Activity? StartIntakeBatch(Batch<OrderSubmitted> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (!Source.HasListeners())
        {
            return null; // nothing traces: no links or ids to gather
        }

        var links = new List<ActivityLink>(messages.Length);
        foreach (var message in messages)
        {
            if (SubmissionContext(message) is { } submitted)
            {
                links.Add(new ActivityLink(submitted, new ActivityTagsCollection { ["pipeline.order_id"] = Printable(message.Message.OrderId) }));
            }
        }

        var span = StartRoot("intake batch", ActivityKind.Internal, links);
        span?.SetTag("messaging.batch.message_count", messages.Length);
        span?.SetTag("pipeline.order_ids", OrderIds(messages.Select(m => m.Message.OrderId)));
        return span;
    }

    /// <summary>The context a storefront's publish of <paramref name="message"/> carried, if any; none while nothing traces
    /// (no header is parsed for every order of every batch only to be dropped).</summary>
    public static ActivityContext? SubmissionContext(ConsumeContext message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!Source.HasListeners())
        {
            return null;
        }

        var headers = message.ReceiveContext?.TransportHeaders ?? message.Headers;
        return headers.TryGetHeader(DiagnosticHeaders.ActivityId, out var value) && value is string id
            && ActivityContext.TryParse(id, null, isRemote: true, out var context)
            ? context
            : null;
    }

    /// <summary>The header value for a forward's orders: each order's context, or an empty entry; null when none has one
    /// (nothing is traced), so no header is sent.</summary>
    public static string? EncodeOrderContexts(IReadOnlyCollection<ActivityContext> contexts)
    {
        ArgumentNullException.ThrowIfNull(contexts);
        return contexts.All(c => c == default) ? null : string.Join(',', contexts.Select(c => c == default ? "" : TraceParent(c)));
    }

    /// <summary>Sets the <see cref="OrderContextsHeader"/> of a send, when there is something to carry.</summary>
    public static void SetOrderContexts(SendContext send, string? orderContexts)
    {
        ArgumentNullException.ThrowIfNull(send);
        if (orderContexts is not null)
        {
            send.Headers.Set(OrderContextsHeader, orderContexts);
        }
    }

    /// <summary>The orders' contexts a forward carried, one per order; default entries when it carried none or they do not match.</summary>
    public static ActivityContext[] OrderContexts(ConsumeContext command, int orders)
    {
        ArgumentNullException.ThrowIfNull(command);
        var contexts = new ActivityContext[orders];
        if (command.Headers.Get<string>(OrderContextsHeader) is not { Length: > 0 } header)
        {
            return contexts;
        }

        var parts = header.Split(',');
        if (parts.Length != orders)
        {
            return contexts;
        }

        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length > 0 && ActivityContext.TryParse(parts[i], null, isRemote: true, out var context))
            {
                contexts[i] = context;
            }
        }

        return contexts;
    }

    /// <summary>A commit batch's span (one fenced transaction): a trace of its own, linked to each command it serves.</summary>
    public static Activity? StartCommitBatch(IEnumerable<ActivityContext> callers, IEnumerable<string> orderIds, int orders, FenceToken token, string nodeId)
    {
        ArgumentNullException.ThrowIfNull(callers);
        ArgumentNullException.ThrowIfNull(orderIds);
        if (!Source.HasListeners())
        {
            return null;
        }

        var links = callers.Where(c => c != default).GroupBy(c => c)
            .Select(g => new ActivityLink(g.Key, new ActivityTagsCollection { ["pipeline.order_count"] = g.Count() }))
            .ToList();
        var span = StartRoot("commit batch", ActivityKind.Internal, links);
        span?.SetTag("pipeline.commit.orders", orders);
        span?.SetTag("pipeline.order_ids", OrderIds(orderIds));
        span?.SetTag("fence.token.generation", token.Generation);
        span?.SetTag("fence.token.sequence", token.Sequence);
        span?.SetTag("pipeline.node_id", nodeId);
        return span;
    }

    /// <summary>An order's decision: a child of the order's submission (or, without one, of the current span), linked to the
    /// commit batch that decided it and to the command it came in; the decision event published inside it carries its context.</summary>
    public static Activity? StartDecision(ActivityContext order, ActivityContext commitBatch, OrderDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        return StartDecision(order, commitBatch, decision.OrderId,
            decision.AlreadyDecided ? "already_decided" : decision.Confirmed ? "confirmed" : "rejected", decision.Confirmed ? null : decision.Reason);
    }

    /// <summary>A decision intake takes itself (an order refused as invalid): a child of the order's submission, linked to
    /// the intake batch (the current span).</summary>
    public static Activity? StartIntakeDecision(ActivityContext order, string orderId, RejectionReason reason) =>
        StartDecision(order, default, orderId, "rejected", reason);

    private static Activity? StartDecision(ActivityContext order, ActivityContext decidedIn, string orderId, string outcome, RejectionReason? reason)
    {
        if (!Source.HasListeners())
        {
            return null; // one decision per order: nothing to allocate for a span nobody records
        }

        var links = new List<ActivityLink>(2);
        if (decidedIn != default)
        {
            links.Add(new ActivityLink(decidedIn));
        }

        if (order != default && Activity.Current is { } current)
        {
            links.Add(new ActivityLink(current.Context));
        }

        var span = order == default
            ? Source.StartActivity(ActivityKind.Internal, links: links, name: "order decided")
            : Source.StartActivity(ActivityKind.Internal, order, links: links, name: "order decided");
        span?.SetTag("pipeline.order_id", Printable(orderId));
        span?.SetTag("pipeline.decision", outcome);
        if (reason is { } why)
        {
            span?.SetTag("pipeline.rejection_reason", why.ToString());
        }

        return span;
    }

    /// <summary>Marks <paramref name="span"/> failed with the exception's type only: messages may quote data.</summary>
    public static void Failed(Activity? span, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        span?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
        span?.SetTag("error.type", exception.GetType().FullName);
    }

    /// <summary>Starts a span with no parent, whatever span is current: a batch serves many traces, and belongs to none of them.</summary>
    private static Activity? StartRoot(string name, ActivityKind kind, IEnumerable<ActivityLink> links)
    {
        var ambient = Activity.Current;
        Activity.Current = null;
        var span = Source.StartActivity(kind, default(ActivityContext), links: links, name: name);
        if (span is null)
        {
            Activity.Current = ambient;
        }

        return span;
    }

    private static string TraceParent(ActivityContext context) => string.Create(CultureInfo.InvariantCulture,
        $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(int)context.TraceFlags:x2}");

    private static string[] OrderIds(IEnumerable<string> ids) => [.. ids.Take(MaxOrderIds).Select(Printable)];

    private static string Printable(string? id) => OrderValidation.Printable(id, 60);
}
