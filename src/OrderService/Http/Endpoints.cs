using MassTransit;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Leadership;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Http;

/// <summary>/health/live, /health/ready (bus, ZooKeeper session, database), /status (JSON) and /metrics (Prometheus).</summary>
public static class Endpoints
{
    public static void MapPipelineEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") || c.Tags.Contains("masstransit"), ResponseWriter = WriteReportAsync });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/status", StatusAsync);
    }

    /// <summary>The readiness report with each check's status and reason, so an operator (or a probe's log) sees why.</summary>
    private static Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        });
    }

    private static async Task<IResult> StatusAsync(LeadershipService leadership, ConsumerActivation activation, PipelineMetrics metrics, FenceStatus fenceStatus,
        IOptions<PipelineOptions> options, CancellationToken cancellationToken)
    {
        if (activation.Enabled)
        {
            // The comparison mode has no election: "leader" is what this replica last knew (RabbitMQ never says it moved on).
            var token = activation.Current;
            return Results.Json(new
            {
                nodeId = options.Value.NodeId,
                state = nameof(CommitMode.SingleActiveConsumer),
                isLeader = token is not null,
                token = token?.ToString(),
                leader = (object?)null,
                candidates = Array.Empty<object>(),
                commits = new { confirmed = metrics.Confirmed, rejected = metrics.Rejected, redelivered = metrics.Redelivered, fenceRejections = metrics.FenceRejections },
                lastCommit = new { at = metrics.LastCommitAt, token = metrics.LastCommitToken },
                error = (string?)null,
            });
        }

        var candidate = leadership.Candidate;
        object? leader = null;
        object[] candidates = [];
        string[] foreign = [];
        string? error = null;
        if (candidate is not null)
        {
            try
            {
                var nodes = await candidate.GetCandidatesAsync(cancellationToken);
                candidates = [.. nodes.Where(n => n.IsEphemeral).Select(n => new { node = n.Name, sequence = n.Sequence, session = $"0x{n.SessionId:x}", nodeId = n.Info?.NodeId, host = n.Info?.Host, pid = n.Info?.Pid })];
                leader = candidates.FirstOrDefault();
                foreign = [.. nodes.Where(n => !n.IsEphemeral).Select(n => n.Name)];
            }
            catch (Exception ex) when (ex is Pipeline.ZooKeeper.Protocol.KeeperException or InvalidOperationException or ObjectDisposedException)
            {
                error = ex.Message;
            }
        }

        var lease = candidate?.CurrentLease;
        var fence = fenceStatus.Current;
        return Results.Json(new
        {
            nodeId = options.Value.NodeId,
            state = candidate?.State.ToString() ?? "starting",
            failure = candidate?.FailureReason,
            isLeader = lease is not null && leadership.CommitEndpointConnected,
            token = lease?.Token.ToString(),
            leader,
            candidates,
            foreignNodes = foreign,
            commits = new { confirmed = metrics.Confirmed, rejected = metrics.Rejected, redelivered = metrics.Redelivered, fenceRejections = metrics.FenceRejections },
            lastCommit = new { at = metrics.LastCommitAt, token = metrics.LastCommitToken },
            fence = new
            {
                blocked = fence.Blocked,
                reason = fence.Reason,
                ourToken = fence.OurToken?.ToString(),
                fenceToken = fence.FenceToken?.ToString(),
                consecutiveRefusals = fence.ConsecutiveRefusals,
                refusedSince = fence.RefusedSince,
                nextAttemptAt = fence.NextAttemptAt,
            },
            error,
        });
    }
}
