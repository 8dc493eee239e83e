namespace Pipeline.ZooKeeper.Recipes;

/// <summary>
/// What the leader works under: its token, its node id and a token that is cancelled the moment leadership is in doubt
/// (connection lost, session expired, our node deleted, resignation). Work started under a lease must stop when it is
/// cancelled; whatever it commits must carry <see cref="Token"/> so the resource can refuse a deposed leader.
/// </summary>
public sealed class LeadershipLease : IDisposable
{
    private readonly CancellationTokenSource revoked = new();
    private int revokedFlag;

    internal LeadershipLease(FencingToken token, string nodeId, string znode)
    {
        Token = token;
        NodeId = nodeId;
        Znode = znode;
        GrantedAt = DateTimeOffset.UtcNow;
        GrantedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        CancellationToken = revoked.Token;
    }

    public FencingToken Token { get; }

    public string NodeId { get; }

    /// <summary>Our election znode (its name carries the sequence).</summary>
    public string Znode { get; }

    public DateTimeOffset GrantedAt { get; }

    /// <summary>Stopwatch timestamp of the grant (taken before the lease is published), for histories and failover times.</summary>
    public long GrantedTimestamp { get; }

    /// <summary>Stopwatch timestamp of the revocation (taken before the token is cancelled); 0 while the lease holds.</summary>
    public long RevokedTimestamp { get; private set; }

    /// <summary>Cancelled when the lease ends. Never reset: a regained leadership is a new lease.</summary>
    public CancellationToken CancellationToken { get; }

    public bool IsRevoked => Volatile.Read(ref revokedFlag) != 0;

    /// <summary>Why the lease ended, once it has.</summary>
    public string? RevokedBecause { get; private set; }

    internal bool Revoke(string reason)
    {
        if (Interlocked.Exchange(ref revokedFlag, 1) != 0)
        {
            return false;
        }

        RevokedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        RevokedBecause = reason;
        revoked.Cancel();
        return true;
    }

    public void Dispose() => revoked.Dispose();

    public override string ToString() => $"lease {Token} of {NodeId}";
}
