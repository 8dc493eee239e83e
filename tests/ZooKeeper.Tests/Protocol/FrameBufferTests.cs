using System.Buffers.Binary;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>Frames written with FrameBuffer.BeginFrame/EndFrame come back whole from FrameReader, however the stream splits them.</summary>
public sealed class FrameBufferTests
{
    private const int MaxFrameSize = 0xFFFFF;

    [Fact]
    public void End_frame_writes_the_payload_length_big_endian_in_front_of_the_payload()
    {
        var buffer = new FrameBuffer(4);
        var start = buffer.BeginFrame();
        var writer = new JuteWriter(buffer);
        writer.WriteInt(0x01020304);
        writer.WriteString("/a");

        var length = buffer.EndFrame(start);

        Assert.Equal(0, start);
        Assert.Equal(10, length);
        Assert.Equal(14, buffer.WrittenCount);
        Assert.Equal("0000000A" + "01020304" + "00000002" + "2F61", Convert.ToHexString(buffer.WrittenMemory.Span));
    }

    [Fact]
    public void An_empty_frame_is_just_a_zero_length_prefix()
    {
        var buffer = new FrameBuffer();
        Assert.Equal(0, buffer.EndFrame(buffer.BeginFrame()));
        Assert.Equal("00000000", Convert.ToHexString(buffer.WrittenMemory.Span));
    }

    [Fact]
    public void Truncate_drops_a_frame_and_clear_drops_everything()
    {
        var buffer = new FrameBuffer(16);
        WriteFrame(buffer, [1, 2, 3]);
        var second = buffer.BeginFrame();
        new JuteWriter(buffer).WriteLong(42);
        buffer.EndFrame(second);

        buffer.Truncate(second);
        Assert.Equal("00000003010203", Convert.ToHexString(buffer.WrittenMemory.Span));

        buffer.Clear();
        Assert.Equal(0, buffer.WrittenCount);
        WriteFrame(buffer, [9]);
        Assert.Equal("0000000109", Convert.ToHexString(buffer.WrittenMemory.Span));
    }

    [Fact]
    public void The_buffer_grows_past_its_initial_capacity_without_losing_earlier_frames()
    {
        var buffer = new FrameBuffer(1);
        var frames = Frames(new Random(1), 50, maxSize: 3_000);
        frames.Add(Pattern(200_000)); // far past the initial capacity in one GetSpan
        foreach (var frame in frames)
        {
            WriteFrame(buffer, frame);
        }

        Assert.Equal(frames.Sum(f => f.Length + 4), buffer.WrittenCount);
        var bytes = buffer.WrittenMemory.Span;
        var offset = 0;
        foreach (var frame in frames)
        {
            Assert.Equal(frame.Length, BinaryPrimitives.ReadInt32BigEndian(bytes[offset..]));
            Assert.True(frame.AsSpan().SequenceEqual(bytes.Slice(offset + 4, frame.Length)));
            offset += 4 + frame.Length;
        }
    }

    [Fact]
    public async Task Many_frames_in_one_buffer_read_back_in_order_then_null()
    {
        var frames = Frames(new Random(2), 2_000, maxSize: 300);
        var reader = new FrameReader(new MemoryStream(Write(frames)), MaxFrameSize);

        await AssertReadsBack(reader, frames);
    }

    [Fact]
    public async Task Frames_split_into_one_byte_reads_read_back_whole()
    {
        var frames = Frames(new Random(3), 300, maxSize: 200);
        var stream = new ChunkedReadStream(Write(frames));
        var reader = new FrameReader(stream, MaxFrameSize);

        await AssertReadsBack(reader, frames);
        Assert.Equal(frames.Sum(f => f.Length + 4), stream.Reads);
    }

    [Fact]
    public async Task Frames_split_at_random_points_read_back_whole()
    {
        var random = new Random(4);
        var frames = Frames(random, 500, maxSize: 2_000);
        var reader = new FrameReader(new ChunkedReadStream(Write(frames), 13, random), MaxFrameSize);

        await AssertReadsBack(reader, frames);
    }

    [Fact]
    public async Task Frames_larger_than_the_read_buffer_read_back_whole_even_one_byte_at_a_time()
    {
        // The reader starts with 64 KiB: these force it to move a partial frame to the front and to grow.
        List<byte[]> frames = [Pattern(10), Pattern(65_530), Pattern(70_000), Pattern(3), Pattern(200_000), Pattern(0), Pattern(MaxFrameSize)];
        var bytes = Write(frames);

        await AssertReadsBack(new FrameReader(new MemoryStream(bytes), MaxFrameSize), frames);
        await AssertReadsBack(new FrameReader(new ChunkedReadStream(bytes), MaxFrameSize), frames);
        await AssertReadsBack(new FrameReader(new ChunkedReadStream(bytes, 65_536, new Random(5)), MaxFrameSize), frames);
    }

    [Fact]
    public async Task A_frame_of_exactly_the_limit_is_accepted_and_one_byte_more_is_refused()
    {
        var atLimit = new FrameReader(new MemoryStream(Write([Pattern(1024)])), maxFrameSize: 1024);
        Assert.Equal(1024, (await atLimit.ReadFrameAsync(CancellationToken.None))?.Length);

        var overLimit = new FrameReader(new MemoryStream(Write([Pattern(1025)])), maxFrameSize: 1024);
        await Assert.ThrowsAsync<ZooKeeperProtocolException>(async () => await overLimit.ReadFrameAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_empty_stream_is_a_clean_end()
    {
        var reader = new FrameReader(new MemoryStream([]), MaxFrameSize);
        Assert.Null(await reader.ReadFrameAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("00")]
    [InlineData("000000")]
    [InlineData("00000005")]
    [InlineData("000000050102030405" + "000000")]
    [InlineData("00000005010203")]
    public async Task A_stream_ending_inside_a_frame_is_a_protocol_error(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        foreach (var stream in new Stream[] { new MemoryStream(bytes), new ChunkedReadStream(bytes) })
        {
            var reader = new FrameReader(stream, MaxFrameSize);
            await Assert.ThrowsAsync<ZooKeeperProtocolException>(async () =>
            {
                while (await reader.ReadFrameAsync(CancellationToken.None) is not null)
                {
                }
            });
        }
    }

    [Fact]
    public async Task Bytes_received_fires_for_every_read_that_returned_data()
    {
        var frames = Frames(new Random(6), 20, maxSize: 50);
        var stream = new ChunkedReadStream(Write(frames), 3);
        var calls = 0;
        var reader = new FrameReader(stream, MaxFrameSize) { BytesReceived = () => calls++ };

        await AssertReadsBack(reader, frames);
        Assert.Equal(stream.Reads, calls);
    }

    [Fact]
    public async Task A_request_frame_decodes_back_to_header_and_record()
    {
        var buffer = new FrameBuffer();
        foreach (var (xid, path) in new[] { (1, "/a"), (2, "/b/c"), (3, "/ü") })
        {
            var start = buffer.BeginFrame();
            var writer = new JuteWriter(buffer);
            new RequestHeader(xid, OpCode.GetData).Write(ref writer);
            new GetDataRequest(path, xid % 2 == 1).Write(ref writer);
            buffer.EndFrame(start);
        }

        var reader = new FrameReader(new ChunkedReadStream(buffer.WrittenMemory.ToArray()), MaxFrameSize);
        foreach (var (xid, path) in new[] { (1, "/a"), (2, "/b/c"), (3, "/ü") })
        {
            var frame = await reader.ReadFrameAsync(CancellationToken.None) ?? throw new Xunit.Sdk.XunitException("A frame is missing.");
            var (header, readPath, watch) = DecodeGetData(frame.Span);
            Assert.Equal(new RequestHeader(xid, OpCode.GetData), header);
            Assert.Equal(path, readPath);
            Assert.Equal(xid % 2 == 1, watch);
        }

        Assert.Null(await reader.ReadFrameAsync(CancellationToken.None));
    }

    private static (RequestHeader Header, string? Path, bool Watch) DecodeGetData(ReadOnlySpan<byte> frame)
    {
        var jute = new JuteReader(frame);
        var result = (RequestHeader.Read(ref jute), jute.ReadString(), jute.ReadBool());
        jute.EnsureEnd("GetDataRequest");
        return result;
    }

    private static async Task AssertReadsBack(FrameReader reader, List<byte[]> frames)
    {
        for (var i = 0; i < frames.Count; i++)
        {
            var frame = await reader.ReadFrameAsync(CancellationToken.None) ?? throw new Xunit.Sdk.XunitException($"Frame {i} of {frames.Count} is missing.");
            Assert.Equal(frames[i].Length, frame.Length);
            Assert.True(frames[i].AsSpan().SequenceEqual(frame.Span), $"Frame {i} ({frames[i].Length} bytes) differs.");
        }

        Assert.Null(await reader.ReadFrameAsync(CancellationToken.None));
    }

    private static void WriteFrame(FrameBuffer buffer, byte[] payload)
    {
        var start = buffer.BeginFrame();
        payload.CopyTo(buffer.GetSpan(payload.Length));
        buffer.Advance(payload.Length);
        Assert.Equal(payload.Length, buffer.EndFrame(start));
    }

    private static byte[] Write(List<byte[]> frames)
    {
        var buffer = new FrameBuffer(64);
        foreach (var frame in frames)
        {
            WriteFrame(buffer, frame);
        }

        return buffer.WrittenMemory.ToArray();
    }

    private static List<byte[]> Frames(Random random, int count, int maxSize)
    {
        var frames = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            var frame = new byte[random.Next(8) == 0 ? 0 : random.Next(1, maxSize + 1)];
            random.NextBytes(frame);
            frames.Add(frame);
        }

        return frames;
    }

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * 31) + (length * 7));
        }

        return bytes;
    }
}
