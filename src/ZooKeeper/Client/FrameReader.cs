using System.Buffers.Binary;

namespace Pipeline.ZooKeeper.Client;

/// <summary>Reads length-prefixed frames from a stream into one reusable buffer, refusing any length outside [0, max].</summary>
internal sealed class FrameReader
{
    private readonly Stream stream;
    private readonly int maxFrameSize;
    private byte[] buffer = new byte[64 * 1024];
    private int start;
    private int end;

    public FrameReader(Stream stream, int maxFrameSize)
    {
        this.stream = stream;
        this.maxFrameSize = maxFrameSize;
    }

    /// <summary>Called with the count of bytes each time some arrive (the liveness clock).</summary>
    public Action? BytesReceived { get; set; }

    /// <summary>The next frame's payload, valid until the next call; null at a clean end of stream.</summary>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(4, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start, 4));
        if (length < 0 || (long)length > maxFrameSize || (long)length + 4 > Array.MaxLength)
        {
            throw new Protocol.ZooKeeperProtocolException($"Frame length {length} is outside [0, {maxFrameSize}] (jute.maxbuffer).");
        }

        if (!await FillAsync(4 + length, cancellationToken).ConfigureAwait(false))
        {
            throw new Protocol.ZooKeeperProtocolException($"The connection closed inside a frame of {length} bytes.");
        }

        var frame = buffer.AsMemory(start + 4, length);
        start += 4 + length;
        return frame;
    }

    private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        if (start == end)
        {
            start = end = 0;
        }

        if (end - start >= count)
        {
            return true;
        }

        if (buffer.Length - start < count)
        {
            // Move the partial frame to the front, growing the buffer if the frame itself is larger.
            var target = count > buffer.Length ? new byte[Math.Max(count, buffer.Length * 2)] : buffer;
            Buffer.BlockCopy(buffer, start, target, 0, end - start);
            end -= start;
            start = 0;
            buffer = target;
        }

        while (end - start < count)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (end - start == 0)
                {
                    return false;
                }

                throw new Protocol.ZooKeeperProtocolException("The connection closed inside a frame.");
            }

            end += read;
            BytesReceived?.Invoke();
        }

        return true;
    }
}
