using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Pipeline.Testing;

/// <summary>Reads what an endpoint parked in its error queue.</summary>
public static class ParkedMessages
{
    /// <summary>Takes messages off <paramref name="queue"/> until one's body contains <paramref name="text"/> (MassTransit
    /// declares an error queue with its first fault, so it may not exist yet: a new channel per attempt).</summary>
    public static Task<BasicGetResult> TakeContainingAsync(IConnection connection, string queue, string text, TimeSpan timeout) =>
        Eventually.GetAsync(async () =>
        {
            await using var channel = await connection.CreateChannelAsync().ConfigureAwait(false);
            try
            {
                while (await channel.BasicGetAsync(queue, autoAck: true).ConfigureAwait(false) is { } message)
                {
                    if (Encoding.UTF8.GetString(message.Body.Span).Contains(text, StringComparison.Ordinal))
                    {
                        return message;
                    }
                }
            }
            catch (OperationInterruptedException)
            {
                // Not declared yet.
            }

            return null;
        }, timeout, $"a message containing {text} in {queue}", TimeSpan.FromMilliseconds(200));

    /// <summary>A header of a parked message as text ("" when it has none).</summary>
    public static string Header(BasicGetResult message, string name)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.BasicProperties.Headers?.TryGetValue(name, out var value) == true
            ? value is byte[] bytes ? Encoding.UTF8.GetString(bytes) : value?.ToString() ?? ""
            : "";
    }
}
