// .NET's MTOM reader and writer (XmlMtomReader / XmlMtomWriter, the code behind
// WCF's MtomMessageEncoder, from System.Runtime.Serialization) as one long-running
// process for the interop tests: one command per line on standard input, answered
// on standard output by zero or more result lines and a final "END" line, so a
// test session starts the runtime once and decodes many messages.
//
//   read <quotas> <binary-names> <chunk> <path> <content-type>
//       Decodes the HTTP body stored in <path> as WCF's MTOM encoder does: a
//       multipart/related body with XmlDictionaryReader.CreateMtomReader, anything
//       else with CreateTextReader. <quotas> is "max" (XmlDictionaryReaderQuotas.Max,
//       no MTOM buffer limit) or "wcf" (WCF's defaults: new XmlDictionaryReaderQuotas()
//       and an MTOM buffer quota of 65536 bytes). The whole infoset is walked; the
//       content of every element whose local name is in <binary-names> (comma
//       separated) is read with ReadContentAsBase64 in chunks of <chunk> bytes, or,
//       when <chunk> is 0, whole with ReadElementContentAsBase64 (as WCF's
//       DataContractSerializer reads a byte[]: bounded by the MaxArrayLength quota).
//       Answers "BIN <local-name> <length> <sha256>" per binary element, in document
//       order, then "OK <elements> {<namespace>}<root local name>".
//   write <soap> <sizes> <seed> <path>
//       Writes an upload request as WCF sends it over HTTP (XmlMtomWriter without
//       MIME message headers, boundary "uuid:<guid>+id=1", start
//       <http://tempuri.org/0>): a SOAP <soap> ("11" or "12") envelope whose body
//       holds <upload> with <name> and one <data> per size (comma separated), byte i
//       of value k being (i + seed + k) % 251, each given to WriteBase64 in 64 KiB
//       calls. Answers "CT <content-type>".
//
// Any failure answers "ERR <exception type>: <message>" (inner exceptions appended).
using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Xml;

static class MtomPeer
{
    const int WcfMaxBufferSize = 65536;
    const string InteropNs = "urn:asyncmtom:interop";

    static int Main()
    {
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
        var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        Console.SetOut(stdout);
        Console.WriteLine("READY");
        stdout.Flush();
        string line;
        while ((line = stdin.ReadLine()) != null)
        {
            string[] f = line.Split('\t');
            try
            {
                if (f[0] == "read" && f.Length == 6)
                    Read(f[1], f[2], int.Parse(f[3]), f[4], f[5]);
                else if (f[0] == "write" && f.Length == 5)
                    Write(f[1], f[2], int.Parse(f[3]), f[4]);
                else
                    throw new ArgumentException("bad command: " + line);
            }
            catch (Exception e)
            {
                var text = new StringBuilder();
                for (Exception x = e; x != null; x = x.InnerException)
                    text.Append(text.Length == 0 ? "" : " <- ").Append(x.GetType().FullName)
                        .Append(": ").Append(x.Message);
                Console.WriteLine("ERR " + text.ToString().Replace('\r', ' ').Replace('\n', ' '));
            }
            Console.WriteLine("END");
            stdout.Flush();
        }
        return 0;
    }

    static void Read(string quotaName, string binaryNames, int chunk, string path, string contentType)
    {
        var binary = new HashSet<string>(binaryNames.Split(','));
        XmlDictionaryReaderQuotas quotas;
        int maxBufferSize;
        if (quotaName == "max")
        {
            quotas = XmlDictionaryReaderQuotas.Max;
            maxBufferSize = int.MaxValue;
        }
        else if (quotaName == "wcf")
        {
            quotas = new XmlDictionaryReaderQuotas();
            maxBufferSize = WcfMaxBufferSize;
        }
        else
            throw new ArgumentException("quotas: max or wcf, not " + quotaName);

        var found = new List<string>();
        int elements = 0;
        string root = null;
        using (Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 65536))
        using (XmlDictionaryReader reader = OpenReader(stream, contentType, quotas, maxBufferSize))
        {
            var buffer = new byte[Math.Max(chunk, 1)];
            reader.Read();
            while (!reader.EOF)
            {
                if (reader.NodeType != XmlNodeType.Element)
                {
                    reader.Read();
                    continue;
                }
                elements++;
                if (root == null)
                    root = "{" + reader.NamespaceURI + "}" + reader.LocalName;
                if (!binary.Contains(reader.LocalName))
                {
                    reader.Read();
                    continue;
                }
                string name = reader.LocalName;
                long length = 0;
                using (var sha = SHA256.Create())
                {
                    if (chunk == 0)
                    {
                        byte[] whole = reader.ReadElementContentAsBase64();
                        sha.TransformBlock(whole, 0, whole.Length, null, 0);
                        length = whole.Length;
                    }
                    else if (reader.IsEmptyElement)
                        reader.Read();
                    else
                    {
                        reader.Read();
                        int n;
                        while ((n = reader.ReadContentAsBase64(buffer, 0, buffer.Length)) > 0)
                        {
                            sha.TransformBlock(buffer, 0, n, null, 0);
                            length += n;
                        }
                        if (reader.NodeType != XmlNodeType.EndElement)
                            throw new XmlException("binary element " + name + " holds more than base64 text");
                        reader.Read();
                    }
                    sha.TransformFinalBlock(buffer, 0, 0);
                    found.Add("BIN " + name + " " + length + " " + Hex(sha.Hash));
                }
            }
        }
        foreach (string s in found)
            Console.WriteLine(s);
        Console.WriteLine("OK " + elements + " " + root);
    }

    static XmlDictionaryReader OpenReader(Stream stream, string contentType,
        XmlDictionaryReaderQuotas quotas, int maxBufferSize)
    {
        if (contentType.TrimStart().StartsWith("multipart/related", StringComparison.OrdinalIgnoreCase))
        {
            Encoding[] encodings = { new UTF8Encoding(false), new UnicodeEncoding(false, false), new UnicodeEncoding(true, false) };
            if (maxBufferSize == int.MaxValue)
                return XmlDictionaryReader.CreateMtomReader(stream, encodings, contentType, quotas);
            return XmlDictionaryReader.CreateMtomReader(stream, encodings, contentType, quotas, maxBufferSize, null);
        }
        return XmlDictionaryReader.CreateTextReader(stream, quotas);
    }

    static void Write(string soap, string sizes, int seed, string path)
    {
        string envNs, startInfo;
        if (soap == "11")
        {
            envNs = "http://schemas.xmlsoap.org/soap/envelope/";
            startInfo = "text/xml";
        }
        else if (soap == "12")
        {
            envNs = "http://www.w3.org/2003/05/soap-envelope";
            startInfo = "application/soap+xml";
        }
        else
            throw new ArgumentException("soap: 11 or 12, not " + soap);
        string boundary = "uuid:" + Guid.NewGuid() + "+id=1";
        const string startUri = "http://tempuri.org/0";
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            XmlDictionaryWriter w = XmlDictionaryWriter.CreateMtomWriter(
                stream, new UTF8Encoding(false), int.MaxValue, startInfo, boundary, startUri, false, false);
            w.WriteStartElement("s", "Envelope", envNs);
            w.WriteStartElement("s", "Body", envNs);
            w.WriteStartElement("ns", "upload", InteropNs);
            w.WriteElementString("name", "", "wcf");
            var buffer = new byte[64 * 1024];
            int k = 0;
            foreach (string s in sizes.Split(','))
            {
                long size = long.Parse(s);
                w.WriteStartElement("data", "");
                for (long pos = 0; pos < size; pos += buffer.Length)
                {
                    int n = (int)Math.Min(buffer.Length, size - pos);
                    for (int i = 0; i < n; i++)
                        buffer[i] = (byte)((pos + i + seed + k) % 251);
                    w.WriteBase64(buffer, 0, n);
                }
                w.WriteEndElement();
                k++;
            }
            w.WriteEndElement();
            w.WriteEndElement();
            w.WriteEndElement();
            w.Flush();
            w.Close();
        }
        // As WCF's MtomMessageEncoder formats the HTTP Content-Type.
        Console.WriteLine("CT multipart/related; type=\"application/xop+xml\";start=\"<" + startUri
            + ">\";boundary=\"" + boundary + "\";start-info=\"" + startInfo + "\"");
    }

    static string Hex(byte[] bytes)
    {
        var sb = new StringBuilder(bytes.Length * 2);
        foreach (byte b in bytes)
            sb.Append(b.ToString("x2"));
        return sb.ToString();
    }
}
