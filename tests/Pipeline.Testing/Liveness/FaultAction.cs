using System.Globalization;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.Testing.Liveness;

/// <summary>What the fault proxy does to one request of the client.</summary>
public enum FaultKind
{
    /// <summary>The request is not forwarded; both sockets are reset. The client knows nothing was answered.</summary>
    CutBeforeSend,

    /// <summary>The request is forwarded and applied; its reply is swallowed and both sockets are reset: the outcome is unknown to the client.</summary>
    DropReply,

    /// <summary>The reply is held for the duration, and everything after it on that connection with it (the order is kept).</summary>
    DelayReply,

    /// <summary>All traffic of the proxy, both ways and on every connection (new ones too), is held for the duration, as
    /// a paused server would hold it; starting with this request.</summary>
    Stall,
}

/// <summary>One fault: its kind and, for delays and stalls, how long.</summary>
public readonly record struct FaultAction(FaultKind Kind, TimeSpan Duration)
{
    public static FaultAction CutBeforeSend { get; } = new(FaultKind.CutBeforeSend, TimeSpan.Zero);

    public static FaultAction DropReply { get; } = new(FaultKind.DropReply, TimeSpan.Zero);

    public static FaultAction DelayReply(TimeSpan by) => new(FaultKind.DelayReply, by);

    public static FaultAction Stall(TimeSpan by) => new(FaultKind.Stall, by);

    public override string ToString() => Kind switch
    {
        FaultKind.CutBeforeSend => "cut before send",
        FaultKind.DropReply => "drop reply",
        FaultKind.DelayReply => string.Create(CultureInfo.InvariantCulture, $"delay reply {Duration.TotalMilliseconds:0} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"stall {Duration.TotalMilliseconds:0} ms"),
    };
}

/// <summary>A client request as the proxy saw it: its number among the client's regular requests (xid &gt; 0, counted
/// across all connections, from 1), the connection it came on (from 1), its xid and its type.</summary>
public readonly record struct ProxiedRequest(int Number, int Connection, int Xid, OpCode Type)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"#{Number} {Type} (xid {Xid}, connection {Connection})");
}

/// <summary>A fault the proxy applied, with when (Stopwatch timestamps) its effect started and, once known, ended.</summary>
public sealed record AppliedFault(ProxiedRequest Request, FaultAction Action, long StartedAt)
{
    /// <summary>When the effect ended: at once for cuts and drops, after the hold for delays and stalls; 0 while it lasts.</summary>
    public long EndedAt { get; internal set; }
}
