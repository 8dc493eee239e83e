using System.Diagnostics;

namespace Pipeline.Inventory.Commit;

/// <summary>The inventory's spans on the activity source <c>Pipeline.Inventory</c>: a new leader's fence bump, with its
/// retries while the database is away and its outcome. The attributes are the fence's resource, the token and the node id.</summary>
public static class InventoryTracing
{
    public const string SourceName = "Pipeline.Inventory";

    private static readonly ActivitySource Source = new(SourceName);

    internal static Activity? StartFenceBump(string resource, FenceToken token, string nodeId)
    {
        var span = Source.StartActivity("fence bump", ActivityKind.Internal);
        span?.SetTag("fence.resource", resource);
        span?.SetTag("fence.token.generation", token.Generation);
        span?.SetTag("fence.token.sequence", token.Sequence);
        span?.SetTag("fence.node_id", nodeId);
        return span;
    }

    /// <summary>The bump's outcome: acquired, refused (with the fence's newer token, an error), or abandoned (the lease ended
    /// or the service stopped first).</summary>
    internal static void FenceBumped(Activity? span, FenceAcquisition? acquisition)
    {
        if (span is null)
        {
            return;
        }

        span.SetTag("fence.outcome", acquisition switch { null => "abandoned", { Acquired: true } => "acquired", _ => "refused" });
        if (acquisition is { Acquired: false } refused)
        {
            span.SetTag("fence.current.generation", refused.Current.Generation);
            span.SetTag("fence.current.sequence", refused.Current.Sequence);
            span.SetStatus(ActivityStatusCode.Error, "the fence holds a newer token");
        }
    }
}
