using Microsoft.Extensions.Logging;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Recipes;

public sealed partial class ElectionCandidate
{
    private int failuresInARow;

    /// <summary>Reports that the candidate cannot take part (<see cref="ElectionState.Failed"/>, logged once per cause,
    /// not on every retry), then waits the backoff: the retry delay doubled per failure in a row, capped, with jitter.</summary>
    private async Task FailAsync(string reason, Exception exception, CancellationToken token)
    {
        if (reason != FailureReason)
        {
            if (exception is KeeperException or TimeoutException)
            {
                logger.LogError("Election candidate {NodeId} cannot take part: {Reason}; retrying with backoff", options.NodeId, reason);
            }
            else
            {
                logger.LogError(exception, "Election candidate {NodeId} cannot take part: {Reason}; retrying with backoff", options.NodeId, reason);
            }
        }

        SetState(ElectionState.Failed, null, reason);
        var attempt = Interlocked.Increment(ref failuresInARow);
        var ceiling = Math.Min(options.RetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20)), options.MaxRetryDelay.TotalMilliseconds);
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2))), token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private string DescribeConnectFailure(Exception exception) => exception is KeeperException { Code: ErrorCode.AuthFailed }
        ? $"ZooKeeper refused the credentials ({Identity()})"
        : $"cannot connect to ZooKeeper: {exception.Message}";

    /// <summary>What went wrong, in words an operator can act on: the refused operation, where, and for whom.</summary>
    private string DescribeFailure(Exception exception)
    {
        if (exception is not KeeperException { Path: { } path } keeper)
        {
            return exception is TimeoutException ? $"timed out: {exception.Message}" : $"unexpected {exception.GetType().Name}: {exception.Message}";
        }

        // A create or delete is decided by the parent's ACL, anything else by the node's own.
        var byParent = keeper.Operation is OpCode.Create or OpCode.Create2 or OpCode.CreateContainer or OpCode.CreateTtl or OpCode.Delete;
        var slash = path.LastIndexOf('/');
        var decidingNode = !byParent ? path : slash > 0 ? path[..slash] : "/";
        var where = keeper.Operation is OpCode.Delete ? path : decidingNode;
        var whose = decidingNode == options.ElectionPath ? "the election path's" : $"{decidingNode}'s";
        var (verb, permission) = keeper.Operation switch
        {
            OpCode.Create or OpCode.Create2 or OpCode.CreateContainer or OpCode.CreateTtl => ("creating", "create"),
            OpCode.Delete => ("deleting", "delete"),
            OpCode.SetData => ("writing", "write"),
            OpCode.SetAcl => ("setting the ACL of", "admin"),
            OpCode.GetChildren or OpCode.GetChildren2 => ("listing", "read"),
            OpCode.Sync => ("syncing", "read"),
            _ => ("reading", "read"),
        };
        return keeper.Code switch
        {
            ErrorCode.NoAuth => $"NoAuth {verb} {where}: {whose} ACL does not grant this identity {permission} ({Identity()})",
            ErrorCode.InvalidAcl => $"InvalidAcl {verb} {where}: the server refused the ACL our nodes are created with ({Identity()})",
            _ => $"{keeper.Code} {verb} {where}",
        };
    }

    /// <summary>Who we are to ZooKeeper, without the password.</summary>
    private string Identity() => options.Credential is { } credential ? $"digest user '{credential.User}'" : "no credentials: only what the ACL grants anyone";
}
