namespace Pipeline.ZooKeeper.Client;

/// <summary>Where a client's session stands. Expired, AuthFailed and Closed are terminal: the caller makes a new client.</summary>
public enum ConnectionState
{
    /// <summary>Not yet connected for the first time.</summary>
    Connecting,

    /// <summary>A server holds our session; requests flow.</summary>
    Connected,

    /// <summary>The connection was lost; the client is reconnecting within the session. Ephemerals and watches may still be ours.</summary>
    Disconnected,

    /// <summary>The session is gone (the server said so, or nothing was heard for a whole session timeout): its ephemerals are deleted.</summary>
    Expired,

    /// <summary>The server rejected our credentials.</summary>
    AuthFailed,

    /// <summary>Closed by the caller: the session was ended on the server, its ephemerals deleted.</summary>
    Closed,
}

/// <summary>A change of <see cref="ConnectionState"/> with the session it concerns.</summary>
public sealed record ConnectionStateChange(ConnectionState State, ConnectionState Previous, long SessionId, DateTimeOffset At);

public static class ConnectionStateExtensions
{
    public static bool IsTerminal(this ConnectionState state) => state is ConnectionState.Expired or ConnectionState.AuthFailed or ConnectionState.Closed;
}
