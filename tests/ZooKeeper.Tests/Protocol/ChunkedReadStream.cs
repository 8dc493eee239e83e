namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>
/// A read-only stream over fixed bytes that hands out at most <c>maxChunk</c> bytes per read (a random count in [1, maxChunk]
/// when a <see cref="Random"/> is given), so every frame boundary and length prefix can end up split across reads.
/// </summary>
internal sealed class ChunkedReadStream : Stream
{
    private readonly byte[] data;
    private readonly int maxChunk;
    private readonly Random? random;
    private int position;

    public ChunkedReadStream(byte[] data, int maxChunk = 1, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChunk, 1);
        this.data = data;
        this.maxChunk = maxChunk;
        this.random = random;
    }

    /// <summary>How many reads returned data.</summary>
    public int Reads { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var chunk = random is null ? maxChunk : random.Next(1, maxChunk + 1);
        var count = Math.Min(Math.Min(chunk, buffer.Length), data.Length - position);
        if (count <= 0)
        {
            return 0;
        }

        data.AsSpan(position, count).CopyTo(buffer);
        position += count;
        Reads++;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
