using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Pipeline.Inventory.Status;

namespace Pipeline.OrderService.Dashboard;

/// <summary>Samples what the database says the whole pipeline does, every <see cref="Interval"/>, for the dashboard: the
/// ledger's progress always (so the commit rate of the last minutes is there when a page opens), the rest (undecided
/// orders, election history, last decisions, this replica's readiness) only while a page is watching.</summary>
/// <remarks>A database that cannot be reached leaves the last reading with <see cref="Error"/> set; the rate series gets
/// no point for that interval rather than a made-up zero.</remarks>
public sealed class ClusterActivitySampler(
    NpgsqlDataSource dataSource,
    Pipeline.Inventory.Commit.FencedCommitterOptions committer,
    HealthCheckService health,
    ILogger<ClusterActivitySampler> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>How far back the commit rate goes: five minutes.</summary>
    public const int RatePoints = 150;

    private const int Decisions = 12;
    private const int Elections = 24;
    private static readonly TimeSpan WatchedFor = TimeSpan.FromSeconds(15);

    private readonly ClusterActivityReader reader = new(dataSource, committer.Resource);
    private readonly Queue<RatePoint> rate = new();
    private readonly Lock gate = new();
    private long watchedUntilTicks;
    private (long HighWater, DateTimeOffset At)? mark;

    /// <summary>Commits per second over one interval, ending at <see cref="At"/>.</summary>
    public sealed record RatePoint(DateTimeOffset At, double PerSecond);

    /// <summary>This replica's readiness as its probes see it, with each check's reason.</summary>
    public sealed record Readiness(bool Ready, IReadOnlyList<(string Name, string Status, string? Description)> Checks);

    public ClusterActivity? Latest { get; private set; }

    public Readiness? Ready { get; private set; }

    public string? Error { get; private set; }

    public IReadOnlyList<RatePoint> Rate
    {
        get
        {
            lock (gate)
            {
                return [.. rate];
            }
        }
    }

    /// <summary>A page is watching: read everything for the next few intervals.</summary>
    public void Watched() => Interlocked.Exchange(ref watchedUntilTicks, (DateTimeOffset.UtcNow + WatchedFor).UtcTicks);

    private bool IsWatched => Interlocked.Read(ref watchedUntilTicks) > DateTimeOffset.UtcNow.UtcTicks;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            await SampleAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One reading; the full one when watched, or when there is none yet.</summary>
    internal async Task SampleAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var after = mark?.HighWater;
            long committed, highWater;
            if (IsWatched || Latest is null)
            {
                var activity = await reader.ReadAsync(after, Decisions, Elections, timeout.Token);
                (committed, highWater) = (activity.CommittedSince, activity.LedgerHighWater);
                Latest = activity;
                Ready = await ReadinessAsync(timeout.Token);
            }
            else
            {
                (committed, highWater) = await reader.ReadLedgerAsync(after, timeout.Token);
            }

            var now = DateTimeOffset.UtcNow;
            if (mark is { } previous && now > previous.At)
            {
                AddRate(new RatePoint(now, committed / (now - previous.At).TotalSeconds));
            }

            mark = (highWater, now);
            Error = null;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            logger.LogDebug(ex, "Reading the cluster's activity failed");
            Error = $"database: {ex.Message}";
            mark = null; // the next reading starts a new interval: what happened meanwhile is not spread over it
        }
    }

    private async Task<Readiness> ReadinessAsync(CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(Http.Endpoints.IsReadinessCheck, cancellationToken);
        return new Readiness(report.Status == HealthStatus.Healthy,
            [.. report.Entries.Select(e => (e.Key, e.Value.Status.ToString(), e.Value.Description))]);
    }

    private void AddRate(RatePoint point)
    {
        lock (gate)
        {
            rate.Enqueue(point);
            while (rate.Count > RatePoints)
            {
                rate.Dequeue();
            }
        }
    }
}
