using System.Net.Sockets;
using System.Text;

namespace Pipeline.ZooKeeper.Client;

/// <summary>
/// ZooKeeper's administrative "four-letter words" (ruok, srvr, mntr, ...): four ASCII bytes without a length
/// prefix on the client port; the server writes plain text back and closes the connection. Only commands on the
/// server's <c>4lw.commands.whitelist</c> are executed (since 3.5.3 only <c>srvr</c> by default).
/// </summary>
public static class FourLetterWords
{
    private const int MaxReplyBytes = 1 << 20;

    /// <summary>Sends <paramref name="command"/> to <paramref name="hostPort"/> ("host:port") and returns the whole reply.</summary>
    /// <exception cref="InvalidOperationException">The server refused the command because it is not whitelisted.</exception>
    public static async Task<string> SendAsync(string hostPort, string command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostPort);
        if (command is not { Length: 4 } || !command.All(char.IsAsciiLetterLower))
        {
            throw new ArgumentException("A four-letter word is four lower-case ASCII letters.", nameof(command));
        }

        var server = ServerAddress.Parse(hostPort);
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Host, server.Port, timeoutCts.Token).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command), timeoutCts.Token).ConfigureAwait(false);

        using var reply = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer, timeoutCts.Token).ConfigureAwait(false)) > 0)
        {
            reply.Write(buffer, 0, read);
            if (reply.Length > MaxReplyBytes)
            {
                throw new InvalidOperationException($"The reply to '{command}' from {hostPort} exceeds {MaxReplyBytes} bytes.");
            }
        }

        var text = Encoding.UTF8.GetString(reply.GetBuffer(), 0, (int)reply.Length);
        if (text.Contains("is not executed because it is not in the whitelist", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{hostPort} refused '{command}': {text.Trim()}");
        }

        return text;
    }

    /// <summary>Reads the "Mode:" line of <c>srvr</c>: standalone, leader, follower or observer.</summary>
    public static async Task<string> GetModeAsync(string hostPort, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var text = await SendAsync(hostPort, "srvr", timeout, cancellationToken).ConfigureAwait(false);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("Mode:", StringComparison.Ordinal))
            {
                return line["Mode:".Length..].Trim();
            }
        }

        throw new InvalidOperationException($"'srvr' from {hostPort} has no Mode line: {text.Trim()}");
    }
}
