namespace Pipeline.ZooKeeper.Protocol;

/// <summary>
/// A request ended with a ZooKeeper error code. Catch by code:
/// <c>catch (KeeperException e) when (e.Code == ErrorCode.NodeExists)</c>.
/// </summary>
public class KeeperException : Exception
{
    public KeeperException(ErrorCode code, string? path = null, Exception? inner = null)
        : base(Describe(code, path), inner)
    {
        Code = code;
        Path = path;
    }

    public KeeperException()
        : this(ErrorCode.SystemError)
    {
    }

    public KeeperException(string message)
        : base(message)
    {
        Code = ErrorCode.SystemError;
    }

    public KeeperException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = ErrorCode.SystemError;
    }

    public ErrorCode Code { get; }

    /// <summary>The path of the request, as the caller gave it (without chroot), where there is one.</summary>
    public string? Path { get; }

    /// <summary>The request's type, where the error answers a request: with <see cref="Path"/> it says what was refused.</summary>
    public OpCode? Operation { get; init; }

    /// <summary>True for the codes after which the outcome of a write is unknown: it may or may not have been applied.</summary>
    public bool OutcomeUnknown => Code is ErrorCode.ConnectionLoss or ErrorCode.OperationTimeout;

    private static string Describe(ErrorCode code, string? path) =>
        path is null ? $"ZooKeeper error {code} ({(int)code})" : $"ZooKeeper error {code} ({(int)code}) for {path}";
}

/// <summary>A multi request failed as a whole: nothing was applied. <see cref="Results"/> has each op's own code
/// (0 before the failing op, its code, then RuntimeInconsistency after it).</summary>
public sealed class MultiOperationException : KeeperException
{
    public MultiOperationException(ErrorCode code, string? path, IReadOnlyList<OpResult> results)
        : base(code, path)
    {
        Results = results;
    }

    public MultiOperationException()
        : this(ErrorCode.SystemError, null, [])
    {
    }

    public MultiOperationException(string message)
        : base(message)
    {
        Results = [];
    }

    public MultiOperationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Results = [];
    }

    public IReadOnlyList<OpResult> Results { get; }
}

/// <summary>Bytes from the server that break the protocol (bad length, truncated record, reply out of order, ...). The
/// connection that carried them is dropped and re-established; it never reaches a caller except as ConnectionLoss.</summary>
public sealed class ZooKeeperProtocolException : Exception
{
    public ZooKeeperProtocolException()
    {
    }

    public ZooKeeperProtocolException(string message)
        : base(message)
    {
    }

    public ZooKeeperProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
