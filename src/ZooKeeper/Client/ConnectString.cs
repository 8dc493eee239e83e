using System.Globalization;

namespace Pipeline.ZooKeeper.Client;

/// <summary>A parsed connect string: <c>host1:port1,host2:port2/chroot/path</c>. The port defaults to 2181; IPv6 hosts go in brackets.</summary>
public sealed record ConnectString(IReadOnlyList<ServerAddress> Servers, string? Chroot)
{
    public const int DefaultPort = 2181;

    public static ConnectString Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        string? chroot = null;
        var hostsPart = text;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            hostsPart = text[..slash];
            chroot = text[slash..];
            if (chroot == "/")
            {
                chroot = null;
            }
            else
            {
                PathRules.Validate(chroot, sequential: false);
            }
        }

        var servers = new List<ServerAddress>();
        foreach (var entry in hostsPart.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            servers.Add(ServerAddress.Parse(entry));
        }

        if (servers.Count == 0)
        {
            throw new FormatException($"The connect string '{text}' names no server.");
        }

        return new ConnectString(servers, chroot);
    }

    public override string ToString() => string.Join(',', Servers) + Chroot;
}

/// <summary>One server of a connect string.</summary>
public sealed record ServerAddress(string Host, int Port)
{
    public static ServerAddress Parse(string entry)
    {
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"'{entry}' opens an IPv6 bracket it never closes.");
            }

            var rest = entry[(close + 1)..];
            if (rest.Length > 0 && !rest.StartsWith(':'))
            {
                throw new FormatException($"'{entry}' has text after the IPv6 bracket that is not ':port'.");
            }

            return Checked(entry[1..close], rest.Length > 0 ? ParsePort(rest[1..], entry) : ConnectString.DefaultPort, entry);
        }

        var colon = entry.LastIndexOf(':');
        if (colon >= 0 && entry.IndexOf(':', StringComparison.Ordinal) != colon)
        {
            throw new FormatException($"'{entry}' looks like an IPv6 address: write it in brackets, [addr]:port.");
        }

        return colon < 0
            ? Checked(entry, ConnectString.DefaultPort, entry)
            : Checked(entry[..colon], ParsePort(entry[(colon + 1)..], entry), entry);
    }

    private static ServerAddress Checked(string host, int port, string entry) =>
        string.IsNullOrWhiteSpace(host) ? throw new FormatException($"'{entry}' has no host.") : new ServerAddress(host, port);

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    private static int ParsePort(string text, string entry) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new FormatException($"'{entry}' has no valid port.");
}
