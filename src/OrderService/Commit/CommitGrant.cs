using Pipeline.Inventory.Commit;

namespace Pipeline.OrderService.Commit;

/// <summary>
/// The right to commit under one token, from an <see cref="ICommitAuthority"/>. Revoked when the leadership behind it ends
/// (<see cref="Revoked"/> is cancelled: commits in flight stop, nothing new starts). A graceful handover closes it instead
/// (<see cref="CloseAsync"/>): no batch starts after that, the one in its transaction finishes, and then nothing of ours
/// reaches Postgres any more, so the successor may take over at once (CommitGrantTests; the graceful rounds of FailoverTests).
/// </summary>
public sealed class CommitGrant
{
    private readonly Func<string?> revokedBecause;
    private readonly Lock gate = new();
    private int inFlight;
    private bool closed;
    private TaskCompletionSource? idle;

    public CommitGrant(FenceToken token, string nodeId, Func<string?> revokedBecause, long grantedTimestamp, CancellationToken revoked)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentNullException.ThrowIfNull(revokedBecause);
        Token = token;
        NodeId = nodeId;
        Revoked = revoked;
        this.revokedBecause = revokedBecause;
        GrantedTimestamp = grantedTimestamp;
    }

    /// <summary>The token every commit under this grant presents to the fence and writes to the ledger.</summary>
    public FenceToken Token { get; }

    public string NodeId { get; }

    /// <summary>Cancelled when the leadership behind the grant ends.</summary>
    public CancellationToken Revoked { get; }

    public bool IsRevoked => Revoked.IsCancellationRequested;

    /// <summary>Why it ended, once it has ("closed" after a handover).</summary>
    public string? RevokedBecause => revokedBecause() ?? (closed ? "handed over" : null);

    /// <summary>When the grant was given (<see cref="System.Diagnostics.Stopwatch"/> ticks): the start of a handover.</summary>
    public long GrantedTimestamp { get; }

    /// <summary>A batch may start its transaction: false once the grant is revoked or closed. Pair with <see cref="EndCommit"/>.</summary>
    public bool TryBeginCommit()
    {
        lock (gate)
        {
            if (closed || IsRevoked)
            {
                return false;
            }

            inFlight++;
            return true;
        }
    }

    public void EndCommit()
    {
        lock (gate)
        {
            if (--inFlight == 0)
            {
                idle?.TrySetResult();
            }
        }
    }

    /// <summary>No batch starts after this; completes once the batches in their transaction have ended.</summary>
    public Task CloseAsync()
    {
        lock (gate)
        {
            closed = true;
            if (inFlight == 0)
            {
                return Task.CompletedTask;
            }

            idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return idle.Task;
        }
    }

    public override string ToString() => $"{NodeId} {Token}";
}
