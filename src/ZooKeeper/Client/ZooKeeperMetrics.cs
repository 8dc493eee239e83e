using System.Diagnostics;
using System.Diagnostics.Metrics;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>The client's instruments, on the meter <c>Pipeline.ZooKeeper</c>.</summary>
public static class ZooKeeperMetrics
{
    public const string MeterName = "Pipeline.ZooKeeper";

    private static readonly Meter Meter = new(MeterName);

    internal static readonly Counter<long> Requests = Meter.CreateCounter<long>("zookeeper.client.requests", "{request}", "Requests by op and outcome");
    /// <summary>Time from submit to reply, in seconds: a healthy ensemble answers in milliseconds, a lost link takes up to the
    /// request timeout (seconds), so the boundaries cover both.</summary>
    internal static readonly Histogram<double> Latency = Meter.CreateHistogram<double>("zookeeper.client.request.duration", "s", "Time from submit to reply",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    internal static readonly Counter<long> Reconnects = Meter.CreateCounter<long>("zookeeper.client.reconnects", "{reconnect}", "Reconnections within a session");
    internal static readonly Counter<long> Expirations = Meter.CreateCounter<long>("zookeeper.client.session.expirations", "{expiration}", "Sessions that expired");
    internal static readonly Counter<long> WatchEvents = Meter.CreateCounter<long>("zookeeper.client.watch.events", "{event}", "Watch callbacks fired by notifications");

    private static readonly Dictionary<OpCode, string> OpNames = Enum.GetValues<OpCode>().Distinct().ToDictionary(o => o, o => o.ToString());
    private static readonly Dictionary<ErrorCode, string> Outcomes = Enum.GetValues<ErrorCode>().Distinct().ToDictionary(e => e, e => e == ErrorCode.Ok ? "ok" : e.ToString());

    internal static void RecordRequest(Packet packet, ErrorCode err)
    {
        if (!Requests.Enabled && !Latency.Enabled)
        {
            return;
        }

        var op = new KeyValuePair<string, object?>("op", OpNames.GetValueOrDefault(packet.Request.OpCode, "unknown"));
        Requests.Add(1, op, new KeyValuePair<string, object?>("outcome", Outcomes.GetValueOrDefault(err, "unknown")));
        Latency.Record(Stopwatch.GetElapsedTime(packet.StartedAt).TotalSeconds, op);
    }

}
