using System.Buffers.Binary;
using System.Text;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using static Pipeline.ZooKeeper.Tests.Protocol.JuteTestKit;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>
/// Jute primitives, shared records, headers and the handshake: what JuteWriter writes, JuteReader reads back, with the
/// byte layout of the fact sheet (§1, §2, §3, §5). Requests and responses are in the other parts of this class.
/// </summary>
public sealed partial class RecordRoundTripTests
{
    [Fact]
    public void Null_string_is_length_minus_one_and_empty_string_is_length_zero_and_they_read_back_distinct()
    {
        var nullBytes = Encode((ref w) => w.WriteString(null));
        var emptyBytes = Encode((ref w) => w.WriteString(""));

        Assert.Equal("FFFFFFFF", Convert.ToHexString(nullBytes));
        Assert.Equal("00000000", Convert.ToHexString(emptyBytes));
        Assert.Null(Decode(nullBytes, (ref r) => r.ReadString()));
        Assert.Equal("", Decode(emptyBytes, (ref r) => r.ReadString()));
    }

    [Fact]
    public void Null_buffer_is_length_minus_one_and_empty_buffer_is_length_zero()
    {
        var nullBytes = Encode((ref w) => w.WriteBuffer(null));
        var nullBySpan = Encode((ref w) => w.WriteBuffer([], isNull: true));
        var emptyBytes = Encode((ref w) => w.WriteBuffer(Array.Empty<byte>()));

        Assert.Equal("FFFFFFFF", Convert.ToHexString(nullBytes));
        Assert.Equal("FFFFFFFF", Convert.ToHexString(nullBySpan));
        Assert.Equal("00000000", Convert.ToHexString(emptyBytes));
        Assert.Null(Decode(nullBytes, (ref r) => r.ReadBuffer()));
        var empty = Decode(emptyBytes, (ref r) => r.ReadBuffer());
        Assert.NotNull(empty);
        Assert.Empty(empty);
    }

    [Fact]
    public void Null_string_vector_is_minus_one_and_an_empty_one_is_zero()
    {
        var nullBytes = Encode((ref w) => w.WriteStringVector(null));
        var emptyBytes = Encode((ref w) => w.WriteStringVector([]));

        Assert.Equal("FFFFFFFF", Convert.ToHexString(nullBytes));
        Assert.Equal("00000000", Convert.ToHexString(emptyBytes));
        Assert.Null(Decode(nullBytes, (ref r) => r.ReadStringVector()));
        Assert.Equal([], Decode(emptyBytes, (ref r) => r.ReadStringVector()));
    }

    [Fact]
    public void Primitives_are_big_endian_and_round_trip()
    {
        var bytes = Encode((ref w) =>
        {
            w.WriteByte(0xAB);
            w.WriteBool(true);
            w.WriteBool(false);
            w.WriteInt(-2);
            w.WriteInt(0x01020304);
            w.WriteLong(long.MinValue);
            w.WriteLong(0x0102030405060708);
            w.WriteString("/ü/日本");
            w.WriteBuffer(new byte[] { 1, 2, 3 });
            w.WriteStringVector(["a", "", "/b"]);
        });

        Assert.Equal(
            "AB" + "01" + "00" + "FFFFFFFE" + "01020304" + "8000000000000000" + "0102030405060708"
            + "0000000A" + Convert.ToHexString(Encoding.UTF8.GetBytes("/ü/日本")) + "00000003010203"
            + "00000003" + "0000000161" + "00000000" + "000000022F62",
            Convert.ToHexString(bytes));

        var reader = new JuteReader(bytes);
        Assert.Equal(0xAB, reader.ReadByte());
        Assert.True(reader.ReadBool());
        Assert.False(reader.ReadBool());
        Assert.Equal(-2, reader.ReadInt());
        Assert.Equal(0x01020304, reader.ReadInt());
        Assert.Equal(long.MinValue, reader.ReadLong());
        Assert.Equal(0x0102030405060708, reader.ReadLong());
        Assert.Equal("/ü/日本", reader.ReadString());
        Assert.Equal([1, 2, 3], reader.ReadBuffer());
        Assert.Equal(["a", "", "/b"], reader.ReadStringVector());
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void Any_non_zero_byte_reads_as_true_like_the_java_reader()
    {
        Assert.True(Decode([0x02], (ref r) => r.ReadBool()));
        Assert.True(Decode([0xFF], (ref r) => r.ReadBool()));
        Assert.False(Decode([0x00], (ref r) => r.ReadBool()));
    }

    [Theory]
    [InlineData("FFFFFFFE")] // length -2
    [InlineData("80000000")] // length int.MinValue
    [InlineData("00000005414243")] // claims 5, has 3
    [InlineData("7FFFFFFF")] // claims int.MaxValue
    [InlineData("000000")] // truncated length
    [InlineData("00000002C328")] // invalid UTF-8
    [InlineData("00000003EDA080")] // an encoded surrogate is not UTF-8
    public void Malformed_strings_are_protocol_errors(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        Assert.Throws<ZooKeeperProtocolException>(() => Decode(bytes, (ref r) => r.ReadString()));
    }

    [Fact]
    public void A_required_string_that_is_null_is_a_protocol_error()
    {
        Assert.Throws<ZooKeeperProtocolException>(() => Decode([0xFF, 0xFF, 0xFF, 0xFF], (ref r) => r.ReadRequiredString("path")));
    }

    [Fact]
    public void Stat_is_68_bytes_in_declaration_order_and_round_trips()
    {
        var stat = SampleStat();
        var bytes = Encode((ref w) => stat.Write(ref w));

        Assert.Equal(Stat.Size, bytes.Length);
        Assert.Equal(68, bytes.Length);
        Assert.Equal(stat.Czxid, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(0)));
        Assert.Equal(stat.Mzxid, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(8)));
        Assert.Equal(stat.Ctime, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(16)));
        Assert.Equal(stat.Mtime, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(24)));
        Assert.Equal(stat.Version, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(32)));
        Assert.Equal(stat.Cversion, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(36)));
        Assert.Equal(stat.Aversion, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(40)));
        Assert.Equal(stat.EphemeralOwner, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(44)));
        Assert.Equal(stat.DataLength, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(52)));
        Assert.Equal(stat.NumChildren, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(56)));
        Assert.Equal(stat.Pzxid, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(60)));
        Assert.Equal(stat, Decode(bytes, (ref r) => Stat.Read(ref r)));
    }

    [Fact]
    public void Stat_with_extreme_values_round_trips()
    {
        var stat = new Stat(long.MaxValue, long.MinValue, -1, 0, int.MinValue, int.MaxValue, -1, long.MinValue, 0, int.MaxValue, -1);
        var bytes = Encode((ref w) => stat.Write(ref w));
        Assert.Equal(stat, Decode(bytes, (ref r) => Stat.Read(ref r)));
    }

    [Fact]
    public void Id_round_trips_as_two_ustrings()
    {
        var id = new Id("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
        var bytes = Encode((ref w) => id.Write(ref w));

        var reader = new JuteReader(bytes);
        Assert.Equal("digest", reader.ReadString());
        Assert.Equal("bob:fyVmFCwVbTJYrznoSu1koqYEYF0=", reader.ReadString());
        Assert.Equal(0, reader.Remaining);
        Assert.Equal(id, Decode(bytes, (ref r) => Id.Read(ref r)));
    }

    [Fact]
    public void The_creator_id_has_an_empty_id_written_as_length_zero_not_null()
    {
        var bytes = Encode((ref w) => Id.Creator.Write(ref w));
        Assert.Equal("00000004" + "61757468" + "00000000", Convert.ToHexString(bytes));
        Assert.Equal(new Id("auth", ""), Decode(bytes, (ref r) => Id.Read(ref r)));
    }

    [Fact]
    public void Digest_id_is_user_and_base64_sha1_of_user_colon_password()
    {
        Assert.Equal(new Id("digest", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="), Id.Digest("bob", "secret"));
        Assert.Equal("bob:fyVmFCwVbTJYrznoSu1koqYEYF0=", Id.Digest("bob", "secret").Identity);
    }

    [Fact]
    public void Well_known_acls_match_the_fact_sheet()
    {
        Assert.Equal([new Acl(Permissions.All, new Id("world", "anyone"))], Acl.OpenUnsafe);
        Assert.Equal([new Acl(Permissions.All, new Id("auth", ""))], Acl.CreatorAll);
        Assert.Equal([new Acl(Permissions.Read, new Id("world", "anyone"))], Acl.ReadUnsafe);
        Assert.Equal(31, (int)Permissions.All);
    }

    [Fact]
    public void Acl_vectors_round_trip_field_by_field()
    {
        var bytes = Encode((ref w) => Acl.WriteVector(ref w, MixedAcl));

        Assert.Equal(MixedAcl, Decode(bytes, (ref r) => ReadAclByHand(ref r)));
        Assert.Equal(MixedAcl, Decode(bytes, (ref r) => Acl.ReadVector(ref r)));
    }

    [Fact]
    public void Open_acl_vector_has_the_exact_bytes()
    {
        var bytes = Encode((ref w) => Acl.WriteVector(ref w, Acl.OpenUnsafe));
        Assert.Equal("00000001" + "0000001F" + "00000005776F726C64" + "00000006616E796F6E65", Convert.ToHexString(bytes));
    }

    [Fact]
    public void Empty_and_null_acl_vectors()
    {
        var empty = Encode((ref w) => Acl.WriteVector(ref w, []));
        Assert.Equal("00000000", Convert.ToHexString(empty));
        Assert.Equal([], Decode(empty, (ref r) => Acl.ReadVector(ref r)));
        Assert.Null(Decode([0xFF, 0xFF, 0xFF, 0xFF], (ref r) => Acl.ReadVector(ref r)));
    }

    [Fact]
    public void Request_header_is_8_bytes_xid_then_type()
    {
        var header = new RequestHeader(0x01020304, OpCode.GetChildren2);
        var bytes = Encode((ref w) => header.Write(ref w));

        Assert.Equal(RequestHeader.Size, bytes.Length);
        Assert.Equal("01020304" + "0000000C", Convert.ToHexString(bytes));
        Assert.Equal(header, Decode(bytes, (ref r) => RequestHeader.Read(ref r)));
    }

    [Fact]
    public void Reply_header_is_16_bytes_xid_zxid_err()
    {
        var header = new ReplyHeader(-4, 0x0000_0002_0000_0007, ErrorCode.AuthFailed);
        var bytes = Encode((ref w) => header.Write(ref w));

        Assert.Equal(ReplyHeader.Size, bytes.Length);
        Assert.Equal(16, bytes.Length);
        Assert.Equal("FFFFFFFC" + "0000000200000007" + "FFFFFF8D", Convert.ToHexString(bytes));
        Assert.Equal(header, Decode(bytes, (ref r) => ReplyHeader.Read(ref r)));
    }

    [Fact]
    public void Multi_header_is_9_bytes_and_the_terminator_is_minus_one_true_minus_one()
    {
        var header = new MultiHeader(OpCode.SetData, false, ErrorCode.BadVersion);
        var bytes = Encode((ref w) => header.Write(ref w));
        var end = Encode((ref w) => MultiHeader.End.Write(ref w));

        Assert.Equal(MultiHeader.Size, bytes.Length);
        Assert.Equal(9, bytes.Length);
        Assert.Equal("00000005" + "00" + "FFFFFF99", Convert.ToHexString(bytes));
        Assert.Equal(header, Decode(bytes, (ref r) => MultiHeader.Read(ref r)));
        Assert.Equal("FFFFFFFF" + "01" + "FFFFFFFF", Convert.ToHexString(end));
        Assert.Equal(MultiHeader.End, Decode(end, (ref r) => MultiHeader.Read(ref r)));
    }

    [Fact]
    public void Connect_request_is_45_bytes_with_a_16_byte_password_and_round_trips()
    {
        var password = Enumerable.Range(0xA0, 16).Select(i => (byte)i).ToArray();
        var request = new ConnectRequest(0, 0x1122334455667788, 30_000, 0x0102030405060708, password, ReadOnly: true);
        var bytes = Encode((ref w) => request.Write(ref w));

        Assert.Equal(45, bytes.Length);
        var reader = new JuteReader(bytes);
        Assert.Equal(0, reader.ReadInt());
        Assert.Equal(0x1122334455667788, reader.ReadLong());
        Assert.Equal(30_000, reader.ReadInt());
        Assert.Equal(0x0102030405060708, reader.ReadLong());
        Assert.Equal(password, reader.ReadBuffer());
        Assert.Equal(1, reader.ReadByte());
        Assert.Equal(0, reader.Remaining);

        var back = Decode(bytes, (ref r) => ConnectRequest.Read(ref r));
        Assert.Equal(request with { Password = back.Password }, back);
        Assert.Equal(password, back.Password);
    }

    [Fact]
    public void Golden_connect_request_frames()
    {
        var password = Enumerable.Range(0xA0, 16).Select(i => (byte)i).ToArray();
        Assert.Equal(
            "0000002D" + "00000000" + "1122334455667788" + "00007530" + "0102030405060708" + "00000010"
            + "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF" + "01",
            Convert.ToHexString(Frame(new ConnectRequest(0, 0x1122334455667788, 30_000, 0x0102030405060708, password, true))));

        // A new session: zxid 0, session 0, 16 zero bytes of password, read-write server required.
        Assert.Equal(
            "0000002D" + "00000000" + "0000000000000000" + "00002710" + "0000000000000000" + "00000010"
            + new string('0', 32) + "00",
            Convert.ToHexString(Frame(new ConnectRequest(0, 0, 10_000, 0, new byte[16], false))));
    }

    [Fact]
    public void Golden_get_data_and_ping_request_frames()
    {
        Assert.Equal(
            "00000011" + "00000007" + "00000004" + "00000004" + "2F612F62" + "01",
            Convert.ToHexString(RequestFrame(7, new GetDataRequest("/a/b", Watch: true))));
        Assert.Equal("00000008" + "FFFFFFFE" + "0000000B", Convert.ToHexString(RequestFrame(Xids.Ping, EmptyRequest.Ping)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Connect_response_round_trips_with_the_trailing_read_only_byte(bool readOnly)
    {
        var password = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var response = new ConnectResponse(0, 4_000, 0x0100_0000_0000_0042, password, readOnly);
        var bytes = Encode((ref w) => response.Write(ref w));

        Assert.Equal(37, bytes.Length);
        Assert.Equal(readOnly ? 1 : 0, bytes[^1]);
        var back = Decode(bytes, (ref r) => ConnectResponse.Read(ref r));
        Assert.Equal(response with { Password = back.Password }, back);
        Assert.Equal(password, back.Password);
        Assert.False(back.IsExpired);
    }

    [Fact]
    public void Connect_response_without_the_read_only_byte_is_accepted_as_read_write()
    {
        var bytes = Convert.FromHexString("00000000" + "00000FA0" + "0100000000000042" + "00000010" + "0102030405060708090A0B0C0D0E0F10");
        Assert.Equal(36, bytes.Length);

        var back = Decode(bytes, (ref r) => ConnectResponse.Read(ref r));

        Assert.Equal((0, 4_000, 0x0100_0000_0000_0042L, false), (back.ProtocolVersion, back.TimeOut, back.SessionId, back.ReadOnly));
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (byte)i), back.Password);
    }

    [Fact]
    public void Connect_response_of_an_expired_session_reads_as_expired_and_trailing_bytes_are_refused()
    {
        var expired = Convert.FromHexString("00000000" + "00000000" + "0000000000000000" + "00000010" + new string('0', 32) + "00");
        Assert.True(Decode(expired, (ref r) => ConnectResponse.Read(ref r)).IsExpired);
        Assert.True(new ConnectResponse(0, 4_000, 0, new byte[16], false).IsExpired);
        Assert.True(new ConnectResponse(0, -1, 42, new byte[16], false).IsExpired);

        var tooLong = Convert.FromHexString(Convert.ToHexString(expired) + "00");
        Assert.Throws<ZooKeeperProtocolException>(() => Decode(tooLong, (ref r) => ConnectResponse.Read(ref r)));
    }

    [Theory]
    [InlineData(4, 3, "/app/node")]
    [InlineData(-1, 0, null)]
    [InlineData(2, -112, "")]
    public void Watcher_event_record_round_trips(int type, int state, string? path)
    {
        var record = new WatcherEventRecord(type, state, path);
        var bytes = Encode((ref w) => record.Write(ref w));

        var reader = new JuteReader(bytes);
        Assert.Equal(type, reader.ReadInt());
        Assert.Equal(state, reader.ReadInt());
        Assert.Equal(path, reader.ReadString());
        Assert.Equal(record, Decode(bytes, (ref r) => WatcherEventRecord.Read(ref r)));
    }

    [Fact]
    public void Notification_frame_is_reply_header_minus_one_minus_one_zero_then_the_watcher_event()
    {
        var bytes = Encode((ref w) =>
        {
            new ReplyHeader(Xids.Notification, -1, ErrorCode.Ok).Write(ref w);
            new WatcherEventRecord((int)EventType.NodeDataChanged, (int)KeeperState.SyncConnected, "/a").Write(ref w);
        });

        Assert.Equal("FFFFFFFF" + "FFFFFFFFFFFFFFFF" + "00000000" + "00000003" + "00000003" + "000000022F61", Convert.ToHexString(bytes));
        var reader = new JuteReader(bytes);
        Assert.Equal(new ReplyHeader(-1, -1, ErrorCode.Ok), ReplyHeader.Read(ref reader));
        Assert.Equal(new WatcherEventRecord(3, 3, "/a"), WatcherEventRecord.Read(ref reader));
        Assert.Equal(0, reader.Remaining);
    }

    private static byte[] Frame(ConnectRequest request)
    {
        var frame = new FrameBuffer(8);
        var start = frame.BeginFrame();
        var writer = new JuteWriter(frame);
        request.Write(ref writer);
        frame.EndFrame(start);
        return frame.WrittenMemory.ToArray();
    }

    private static byte[] RequestFrame(int xid, IRequestRecord record)
    {
        var frame = new FrameBuffer(8);
        var start = frame.BeginFrame();
        var writer = new JuteWriter(frame);
        new RequestHeader(xid, record.OpCode).Write(ref writer);
        record.Write(ref writer);
        frame.EndFrame(start);
        return frame.WrittenMemory.ToArray();
    }
}
