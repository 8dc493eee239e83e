using Microsoft.Extensions.Logging;

namespace Pipeline.ZooKeeper.Client;

/// <summary>Settings of a <see cref="ZooKeeperClient"/>. <see cref="Validate"/> runs when a client is created.</summary>
public sealed class ZooKeeperClientOptions
{
    /// <summary>"host:port,host:port/chroot". Required.</summary>
    public string ConnectString { get; set; } = "";

    /// <summary>The session timeout to ask for; the server clamps it to its [min, max] and every timer follows the negotiated value.</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one connection attempt (TCP connect plus handshake) may take; default: session timeout / number of servers.</summary>
    public TimeSpan? ConnectTimeout { get; set; }

    /// <summary>How long a request may wait for its reply, queued time included, before it fails with OperationTimeout.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Digest credentials ("user", "password") sent on every connection, before anything else.</summary>
    public IList<DigestCredential> Credentials { get; } = [];

    /// <summary>The largest <see cref="MaxFrameSize"/> allowed: far above any server's jute.maxbuffer, far below overflow.</summary>
    public const int MaxFrameSizeLimit = 64 * 1024 * 1024;

    /// <summary>Largest frame accepted from the server; keep it equal to the server's jute.maxbuffer.</summary>
    public int MaxFrameSize { get; set; } = 0xFFFFF;

    /// <summary>Randomised pause before each reconnect attempt after the first (the Java client uses up to 1 s).</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Where the client logs; nothing when null. Credentials are never logged.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Checks every setting and throws an <see cref="ArgumentException"/> that names the one that is wrong.</summary>
    public ConnectString Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectString))
        {
            throw new ArgumentException("ZooKeeper ConnectString is required (host:port[,host:port][/chroot]).", nameof(ConnectString));
        }

        ConnectString parsed;
        try
        {
            parsed = Client.ConnectString.Parse(ConnectString);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            throw new ArgumentException($"ZooKeeper ConnectString '{ConnectString}' is invalid: {ex.Message}", nameof(ConnectString), ex);
        }

        RequirePositive(SessionTimeout, nameof(SessionTimeout));
        RequirePositive(RequestTimeout, nameof(RequestTimeout));
        if (ConnectTimeout is { } connect)
        {
            RequirePositive(connect, nameof(ConnectTimeout));
        }

        if (SessionTimeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentException("ZooKeeper SessionTimeout is too large.", nameof(SessionTimeout));
        }

        if (MaxFrameSize is < 1024 or > MaxFrameSizeLimit)
        {
            throw new ArgumentException($"ZooKeeper MaxFrameSize must be between 1024 bytes and {MaxFrameSizeLimit} bytes.", nameof(MaxFrameSize));
        }

        if (MaxReconnectDelay < TimeSpan.Zero)
        {
            throw new ArgumentException("ZooKeeper MaxReconnectDelay must not be negative.", nameof(MaxReconnectDelay));
        }

        foreach (var credential in Credentials)
        {
            if (string.IsNullOrEmpty(credential.User) || credential.User.Contains(':', StringComparison.Ordinal))
            {
                throw new ArgumentException("ZooKeeper digest credentials need a user name without ':'.", nameof(Credentials));
            }
        }

        return parsed;
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ZooKeeper {name} must be positive, not {value}.", name);
        }
    }
}

/// <summary>A digest identity: the password is sent as auth and never logged.</summary>
public sealed record DigestCredential(string User, string Password)
{
    public override string ToString() => $"digest:{User}:***";
}
