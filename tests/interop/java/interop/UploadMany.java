package interop;

import java.util.List;

import javax.activation.DataHandler;
import javax.xml.bind.annotation.XmlAccessType;
import javax.xml.bind.annotation.XmlAccessorType;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.bind.annotation.XmlMimeType;
import javax.xml.bind.annotation.XmlRootElement;
import javax.xml.bind.annotation.XmlType;

@XmlRootElement(name = "uploadMany", namespace = Interop.NS)
@XmlAccessorType(XmlAccessType.FIELD)
@XmlType(name = "uploadMany", namespace = Interop.NS, propOrder = {"name", "data"})
public class UploadMany {
    @XmlElement(name = "name", namespace = "")
    public String name;
    @XmlElement(name = "data", namespace = "")
    @XmlMimeType("application/octet-stream")
    public List<DataHandler> data;
}
