using System.Diagnostics;

namespace Pipeline.ZooKeeper.Recipes;

/// <summary>The election's spans on the activity source <c>Pipeline.Election</c>: a lease granted (with the succession's
/// cause) and a lease ended (with its reason), each a trace of its own, so a backend shows every handover of a replica.</summary>
/// <remarks>The attributes are the node id, the token and the cause or reason, never the candidate's identity or data.</remarks>
public static class ElectionTracing
{
    public const string SourceName = "Pipeline.Election";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>The span of a lease granted, from the grant to the succession's cause found.</summary>
    internal static void Succession(LeadershipLease granted, string cause, string? previous)
    {
        var startedAt = DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(granted.GrantedTimestamp);
        using var span = Source.StartActivity("election lease granted", ActivityKind.Internal, default(ActivityContext), startTime: startedAt);
        if (span is null)
        {
            return;
        }

        Describe(span, granted);
        span.SetTag("election.succession.cause", cause);
        span.SetTag("election.previous_leader", previous);
    }

    /// <summary>The (instant) span of a lease that ended, with why.</summary>
    internal static void LeaseEnded(LeadershipLease ended, string reason)
    {
        using var span = Source.StartActivity("election lease ended", ActivityKind.Internal, default(ActivityContext));
        if (span is null)
        {
            return;
        }

        Describe(span, ended);
        span.SetTag("election.lease.end_reason", reason);
        span.SetTag("election.lease.held_seconds", Stopwatch.GetElapsedTime(ended.GrantedTimestamp).TotalSeconds);
    }

    private static void Describe(Activity span, LeadershipLease lease)
    {
        span.SetTag("election.node_id", lease.NodeId);
        span.SetTag("election.token.generation", lease.Token.Generation);
        span.SetTag("election.token.sequence", lease.Token.Sequence);
    }
}
