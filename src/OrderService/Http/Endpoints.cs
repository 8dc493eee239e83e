using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Dashboard;
using Pipeline.OrderService.Telemetry;

namespace Pipeline.OrderService.Http;

/// <summary>/health/live, /health/ready (bus, ZooKeeper session, database), /status (JSON), /metrics (Prometheus) and the
/// live dashboard at / (<see cref="DashboardEndpoints"/>).</summary>
public static class Endpoints
{
    public static void MapPipelineEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = IsReadinessCheck, ResponseWriter = WriteReportAsync });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/status", StatusAsync);
        app.MapPipelineDashboard();
    }

    /// <summary>The checks /health/ready runs (and the dashboard shows): ours tagged "ready", and the bus's.</summary>
    public static bool IsReadinessCheck(HealthCheckRegistration check)
    {
        ArgumentNullException.ThrowIfNull(check);
        return check.Tags.Contains("ready") || check.Tags.Contains("masstransit");
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

    private static async Task<IResult> StatusAsync(ICommitAuthority authority, PipelineMetrics metrics, FenceStatus fenceStatus,
        IOptions<PipelineOptions> options, CancellationToken cancellationToken)
    {
        var leadership = await authority.DescribeAsync(cancellationToken);
        var candidates = leadership.Candidates.Select(c => new { node = c.Node, sequence = c.Sequence, session = c.Session, nodeId = c.NodeId, host = c.Host, pid = c.Pid }).ToList();
        var fence = fenceStatus.Current;
        return Results.Json(new
        {
            nodeId = options.Value.NodeId,
            state = leadership.State,
            failure = leadership.Failure,
            isLeader = leadership.IsLeader,
            token = leadership.Token?.ToString(),
            leader = candidates.FirstOrDefault(),
            candidates,
            foreignNodes = leadership.ForeignNodes,
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
            crashSignal = leadership.CrashSignal,
            history = leadership.History.Select(h => new { at = h.At, @event = h.Event, token = h.Token?.ToString(), previous = h.Previous, detail = h.Detail }),
            error = leadership.Error,
        });
    }
}
